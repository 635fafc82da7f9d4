/* Decoder for LTP's perceptron word segmenter (ltp_extension 0.1.13 CWS models), same arithmetic, same words.
 *
 * ltp_extension formats every feature as a string and looks it up in a string hash map (~1.45 us per character
 * here). This kernel reads the same model from tables that transforms/cws_kernel.py builds from the model's own
 * feature map, then runs the same Viterbi: the same sums in the same order, the same tie-breaking, so its words
 * equal ltp_extension's (tests/test_cws_kernel.py checks it on real and hostile text).
 *
 * Feature templates (the feature string's first character in the model): 0..4 ch[-2..+2] (unigrams), 5 ch[-2]ch[-1],
 * 6 ch[-1]ch[0], 7 ch[0]ch[+1], 8 ch[+1]ch[+2] (bigrams), d TYPE(ch[-1])TYPE(ch[0]), c ch[-2]=ch[0].
 * A character's five unigram weights sit together, and so do an adjacent pair's four bigram weights: the pair
 * (j, j+1) is looked up once and serves four positions, so a character costs one hash probe, not twelve.
 * Whitespace (Unicode White_Space, as Rust's char::is_whitespace) is skipped for features and stays with the
 * word before it; code point 0 means "no character", as in LTP.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LABELS 4 /* S B M E */

typedef struct {
    const uint16_t *char_ids;   /* code point -> character id, 0 for a character no feature names */
    const double *unigrams;     /* [id][template 0..4][label] */
    const uint8_t *unigram_has; /* [id]: bit t set when template t exists for the character */
    const uint64_t *pair_slots; /* 2**pair_bits: (a_id << 16 | b_id) << 32 | pair entry; 0 empty */
    int pair_bits;
    const double *pairs;        /* [row][label]: each pair's rows for its templates 5..8, in that order */
    const double *types;        /* [type a * 7 + type b][label] */
    const uint8_t *type_has;    /* [type a * 7 + type b] */
    const double *same_as_2_back; /* the `c` feature's weights, or NULL */
    const double *transitions;  /* [previous label][label] */
} Model;

static inline uint64_t slot_of(uint32_t key, int bits) {
    return ((uint64_t)key * 0x9E3779B97F4A7C15ull) >> (64 - bits);
}

/* A pair's entry: its first row in `pairs` << 4 | which of the templates 5..8 it has (bit t-5); 0 for none. */
typedef uint32_t PairEntry;

/* Fill a pair table of 2**bits slots (zeroed by the caller) with n keys (a_id << 16 | b_id, a_id >= 1) and their
 * entries. */
void cws_build_pairs(uint64_t *slots, int bits, const uint32_t *keys, const uint32_t *entries, int64_t n) {
    uint64_t mask = (1ull << bits) - 1;
    for (int64_t i = 0; i < n; i++) {
        uint64_t s = slot_of(keys[i], bits);
        while (slots[s]) s = (s + 1) & mask;
        slots[s] = (uint64_t)keys[i] << 32 | entries[i];
    }
}

static PairEntry find_pair(const Model *m, uint16_t a, uint16_t b) {
    if (!a || !b) return 0;
    const uint32_t key = (uint32_t)a << 16 | b;
    const uint64_t mask = (1ull << m->pair_bits) - 1;
    for (uint64_t s = slot_of(key, m->pair_bits); m->pair_slots[s]; s = (s + 1) & mask)
        if ((uint32_t)(m->pair_slots[s] >> 32) == key) return (PairEntry)m->pair_slots[s];
    return 0;
}

static int is_white(uint32_t c) {
    if (c == 0x20 || (c >= 0x09 && c <= 0x0D)) return 1;
    if (c < 0x85) return 0;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

static int char_type(uint32_t c) {
    if ((c >= 0x30 && c <= 0x39) || (c >= 0xFF10 && c <= 0xFF19)) return 1;
    if ((c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0xFF21 && c <= 0xFF3A) ||
        (c >= 0xFF41 && c <= 0xFF5A)) return 2;
    if (c >= 0x3040 && c <= 0x3096) return 3;
    if ((c >= 0x30A0 && c <= 0x30FA) || (c >= 0x30FC && c <= 0x30FF) || (c >= 0xFF66 && c <= 0xFF9F)) return 4;
    if ((c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
        (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) ||
        (c >= 0x2B820 && c <= 0x2CEAF) || (c >= 0x2F800 && c <= 0x2FA1F)) return 5;
    return 6;
}

/* One sentence's working arrays (n non-whitespace characters). */
typedef struct {
    const uint32_t *ch;
    const uint16_t *id;
    const PairEntry *pair; /* pair[j]: the pair (j, j+1)'s entry */
    int64_t n;
} Sentence;

static inline const double *unigram(const Model *m, const Sentence *s, int64_t j, int t) {
    const uint16_t id = s->id[j];
    return (m->unigram_has[id] >> t) & 1 ? m->unigrams + ((int64_t)id * 5 + t) * LABELS : NULL;
}

static inline const double *bigram(const Model *m, const Sentence *s, int64_t j, int t) {
    const PairEntry entry = s->pair[j];
    const unsigned has = entry & 15u, bit = 1u << (t - 5);
    if (!(has & bit)) return NULL;
    return m->pairs + ((int64_t)(entry >> 4) + __builtin_popcount(has & (bit - 1))) * LABELS;
}

/* Sum of the found features' weights for each label, in LTP's feature order (its floating-point order). */
static void emission(const Model *m, const Sentence *s, int64_t i, double out[LABELS]) {
    const double *found[12], *w;
    int k = 0;
    const int64_t n = s->n;
    const uint32_t cur = s->ch[i], pre = i > 0 ? s->ch[i - 1] : 0, pre2 = i > 1 ? s->ch[i - 2] : 0;
#define ADD(x) if ((w = (x))) found[k++] = w
    ADD(unigram(m, s, i, 2));
    if (pre != 0) {
        ADD(unigram(m, s, i - 1, 1));
        ADD(bigram(m, s, i - 1, 6));
        const int types = char_type(pre) * 7 + char_type(cur);
        ADD(m->type_has[types] ? m->types + types * LABELS : NULL);
        if (pre2 != 0) {
            ADD(unigram(m, s, i - 2, 0));
            ADD(bigram(m, s, i - 2, 5));
        }
        if (pre2 == cur) ADD(m->same_as_2_back);
    }
    if (i + 1 < n) {
        ADD(unigram(m, s, i + 1, 3));
        ADD(bigram(m, s, i, 7));
    }
    if (i + 2 < n) {
        ADD(unigram(m, s, i + 2, 4));
        ADD(bigram(m, s, i + 1, 8));
    }
#undef ADD
    for (int l = 0; l < LABELS; l++) {
        double sum = 0.0;
        for (int j = 0; j < k; j++) sum += found[j][l];
        out[l] = sum;
    }
}

/* Label the sentence (Viterbi, as LTP: first strict maximum per step, last maximum at the end).
 * back: n*LABELS scratch. labels: n outputs. */
static void viterbi(const Model *m, const Sentence *s, uint8_t *back, uint8_t *labels) {
    double last[LABELS], now[LABELS], base[LABELS];
    emission(m, s, 0, last);
    for (int l = 0; l < LABELS; l++) back[l] = (uint8_t)l;
    for (int64_t i = 1; i < s->n; i++) {
        emission(m, s, i, base);
        for (int l = 0; l < LABELS; l++) {
            double best = -1.7976931348623157e308;
            back[i * LABELS + l] = 0;
            now[l] = 0.0;
            for (int p = 0; p < LABELS; p++) {
                double score = last[p] + base[l] + m->transitions[p * LABELS + l];
                if (score > best) {
                    best = score;
                    back[i * LABELS + l] = (uint8_t)p;
                    now[l] = best;
                }
            }
        }
        memcpy(last, now, sizeof last);
    }
    int best = 0;
    for (int l = 1; l < LABELS; l++)
        if (!(last[l] < last[best])) best = l; /* ties: the last maximum, as itertools' position_max_by */
    for (int64_t i = s->n - 1; i >= 0; i--) {
        labels[i] = (uint8_t)best;
        best = back[i * LABELS + best];
    }
}

/* Segment sentences given as code points cps[starts[s]..starts[s+1]) (fold: read full-width ASCII as ASCII, as
 * the bundled model was trained). out[i] per code point: 1 a word starts here, 0 it continues the word before,
 * 2 leading whitespace LTP leaves out. Returns 0, or -1 when out of memory. */
int cws_segment(const Model *m, const uint32_t *cps, const int64_t *starts, int64_t n_sentences, int fold,
                uint8_t *out) {
    int64_t longest = 0;
    for (int64_t s = 0; s < n_sentences; s++)
        if (starts[s + 1] - starts[s] > longest) longest = starts[s + 1] - starts[s];
    const size_t room = (size_t)longest + 1;
    uint32_t *ch = malloc(sizeof(uint32_t) * room);
    uint16_t *id = malloc(sizeof(uint16_t) * room);
    int64_t *pos = malloc(sizeof(int64_t) * room);
    PairEntry *pair = malloc(sizeof(PairEntry) * room);
    uint8_t *back = malloc(room * LABELS), *labels = malloc(room);
    int failed = !ch || !id || !pos || !pair || !back || !labels;
    for (int64_t s = 0; s < n_sentences && !failed; s++) {
        int64_t n = 0;
        const int64_t begin = starts[s], end = starts[s + 1];
        for (int64_t i = begin; i < end; i++) {
            if (!is_white(cps[i])) {
                const uint32_t c = fold && cps[i] >= 0xFF01 && cps[i] <= 0xFF5E ? cps[i] - 0xFEE0 : cps[i];
                pos[n] = i;
                ch[n] = c;
                id[n++] = c < 0x110000 ? m->char_ids[c] : 0;
            }
        }
        memset(out + begin, n ? 0 : 2, (size_t)(end - begin));
        if (n == 0) continue;
        for (int64_t i = begin; i < pos[0]; i++) out[i] = 2;
        for (int64_t j = 0; j + 1 < n; j++) pair[j] = find_pair(m, id[j], id[j + 1]);
        const Sentence sentence = {ch, id, pair, n};
        viterbi(m, &sentence, back, labels);
        out[pos[0]] = 1;
        for (int64_t i = 1; i < n; i++) {
            const int prev = labels[i - 1], tag = labels[i];
            /* a new word after E or S, or at B or S (LTP's get_entities on S B M E) */
            if (prev == 0 || prev == 3 || tag == 0 || tag == 1) out[pos[i]] = 1;
        }
    }
    free(ch); free(id); free(pos); free(pair); free(back); free(labels);
    return failed ? -1 : 0;
}
