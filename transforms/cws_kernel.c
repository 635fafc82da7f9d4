/* Decoder for LTP's perceptron word segmenter (ltp_extension 0.1.13 CWS models), same arithmetic, same words.
 *
 * ltp_extension formats every feature as a string and looks it up in a string hash map (~1.45 us per character
 * here). This kernel looks the same features up by (template, code point, code point) in one open-addressing
 * table built from the model's own feature map, then runs the same Viterbi: the same sums in the same order, the
 * same tie-breaking, so its words equal ltp_extension's (tests/test_cws_kernel.py checks it on real text).
 *
 * Templates (the feature string's first character in the model): 0..4 ch[-2..+2], 5 ch[-2]ch[-1],
 * 6 ch[-1]ch[0], 7 ch[0]ch[+1], 8 ch[+1]ch[+2], d TYPE(ch[-1])TYPE(ch[0]), c ch[-2]=ch[0].
 * Whitespace (Unicode White_Space, as Rust's char::is_whitespace) is skipped for features and stays with the
 * word before it; code point 0 means "no character", as in LTP.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LABELS 4 /* S B M E */
#define T_D 13   /* template id of the type-pair feature */

static inline uint64_t feature_key(uint64_t template_id, uint64_t a, uint64_t b) {
    return ((template_id + 1) << 42) | (a << 21) | b; /* code points fit in 21 bits; key 0 marks an empty slot */
}

static inline uint64_t slot_of(uint64_t key, int bits) {
    return (key * 0x9E3779B97F4A7C15ull) >> (64 - bits);
}

/* A feature and its four weights in one slot: one cache line visit per feature found. */
typedef struct {
    uint64_t key;
    double w[LABELS];
} Slot;

/* Fill a table of 2**bits slots (zeroed by the caller) with n features: keys and rows into params (row * 4). */
void cws_build(Slot *table, int bits, const uint64_t *keys, const int32_t *rows, const double *params, int64_t n) {
    uint64_t mask = (1ull << bits) - 1;
    for (int64_t i = 0; i < n; i++) {
        uint64_t s = slot_of(keys[i], bits);
        while (table[s].key && table[s].key != keys[i]) s = (s + 1) & mask;
        table[s].key = keys[i];
        memcpy(table[s].w, params + (int64_t)rows[i] * LABELS, sizeof table[s].w);
    }
}

static inline const double *lookup(const Slot *table, int bits, uint64_t key) {
    uint64_t mask = (1ull << bits) - 1, s = slot_of(key, bits);
    while (table[s].key) {
        if (table[s].key == key) return table[s].w;
        s = (s + 1) & mask;
    }
    return NULL;
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

/* Sum of the found features' weights for each label, in LTP's feature order (its floating-point order). */
static void emission(const Slot *table, int bits, const double *c_weights, const uint32_t *ch, int64_t n, int64_t i,
                     double out[LABELS]) {
    const double *found[12], *r;
    int k = 0;
    uint32_t cur = ch[i], pre = i > 0 ? ch[i - 1] : 0, pre2 = i > 1 ? ch[i - 2] : 0;
#define ADD(t, a, b) if ((r = lookup(table, bits, feature_key(t, a, b)))) found[k++] = r
    ADD(2, cur, 0);
    if (pre != 0) {
        ADD(1, pre, 0);
        ADD(6, pre, cur);
        ADD(T_D, (uint32_t)char_type(pre), (uint32_t)char_type(cur));
        if (pre2 != 0) {
            ADD(0, pre2, 0);
            ADD(5, pre2, pre);
        }
        if (pre2 == cur && c_weights) found[k++] = c_weights;
    }
    if (i + 1 < n) {
        ADD(3, ch[i + 1], 0);
        ADD(7, cur, ch[i + 1]);
    }
    if (i + 2 < n) {
        ADD(4, ch[i + 2], 0);
        ADD(8, ch[i + 1], ch[i + 2]);
    }
#undef ADD
    for (int l = 0; l < LABELS; l++) {
        double s = 0.0;
        for (int j = 0; j < k; j++) s += found[j][l];
        out[l] = s;
    }
}

/* Label the n non-whitespace characters ch[0..n) (Viterbi, as LTP: first strict maximum per step, last maximum
 * at the end). back: n*LABELS scratch. labels: n outputs. */
static void viterbi(const Slot *table, int bits, const double *params, const double *c_weights, const uint32_t *ch,
                    int64_t n, uint8_t *back, uint8_t *labels) {
    double last[LABELS], now[LABELS], base[LABELS];
    emission(table, bits, c_weights, ch, n, 0, last);
    for (int l = 0; l < LABELS; l++) back[l] = (uint8_t)l;
    for (int64_t i = 1; i < n; i++) {
        emission(table, bits, c_weights, ch, n, i, base);
        for (int l = 0; l < LABELS; l++) {
            double best = -1.7976931348623157e308;
            back[i * LABELS + l] = 0;
            now[l] = 0.0;
            for (int p = 0; p < LABELS; p++) {
                double score = last[p] + base[l] + params[p * LABELS + l]; /* transitions: the first rows */
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
    for (int64_t i = n - 1; i >= 0; i--) {
        labels[i] = (uint8_t)best;
        best = back[i * LABELS + best];
    }
}

/* Segment sentences given as code points cps[starts[s]..starts[s+1]) (params: the model's, for transitions and c;
 * fold: read full-width ASCII as ASCII, as the bundled model was trained). out[i] per code point: 1 a word starts
 * here, 0 it continues the word before, 2 leading whitespace LTP leaves out. Returns 0, or -1 when out of memory. */
int cws_segment(const Slot *table, int bits, const double *params, int32_t c_row, const uint32_t *cps,
                const int64_t *starts, int64_t n_sentences, int fold, uint8_t *out) {
    const double *c_weights = c_row >= 0 ? params + (int64_t)c_row * LABELS : NULL;
    int64_t longest = 0;
    for (int64_t s = 0; s < n_sentences; s++)
        if (starts[s + 1] - starts[s] > longest) longest = starts[s + 1] - starts[s];
    uint32_t *ch = malloc(sizeof(uint32_t) * (size_t)(longest + 1));
    int64_t *pos = malloc(sizeof(int64_t) * (size_t)(longest + 1));
    uint8_t *back = malloc((size_t)(longest + 1) * LABELS), *labels = malloc((size_t)(longest + 1));
    if (!ch || !pos || !back || !labels) {
        free(ch); free(pos); free(back); free(labels);
        return -1;
    }
    for (int64_t s = 0; s < n_sentences; s++) {
        int64_t n = 0, begin = starts[s], end = starts[s + 1];
        for (int64_t i = begin; i < end; i++) {
            if (!is_white(cps[i])) {
                pos[n] = i;
                ch[n++] = fold && cps[i] >= 0xFF01 && cps[i] <= 0xFF5E ? cps[i] - 0xFEE0 : cps[i];
            }
        }
        memset(out + begin, 0, (size_t)(end - begin));
        if (n == 0) {
            memset(out + begin, 2, (size_t)(end - begin));
            continue;
        }
        for (int64_t i = begin; i < pos[0]; i++) out[i] = 2;
        viterbi(table, bits, params, c_weights, ch, n, back, labels);
        out[pos[0]] = 1;
        for (int64_t i = 1; i < n; i++) {
            int prev = labels[i - 1], tag = labels[i];
            /* a new word after E or S, or at B or S (LTP's get_entities on S B M E) */
            if (prev == 0 || prev == 3 || tag == 0 || tag == 1) out[pos[i]] = 1;
        }
    }
    free(ch); free(pos); free(back); free(labels);
    return 0;
}
