/* Decoder for the CRF word segmenter of transforms/crf_segment.py: the features of transforms/crf_features.py
 * (same templates, summed in the same order, so the same float sums), then Viterbi over S B M E as crfsuite decodes
 * (first strict maximum). tests/test_crf_segment.py checks that its words equal the Python decoder's on real and
 * hostile text.
 *
 * Reading the weights is most of the time, so they are grouped by what they are keyed on (crf_segment._Kernel
 * builds the groups): one row per code point holds its five unigram templates (0..4), one row per code point pair
 * its four bigram templates (5..8), and the other templates have a row each. A run looks each code point and each
 * pair up once, and every character reads its n-gram weights from those rows (a missing feature reads a row of
 * zeros, which adds nothing). Every table is open addressing over 64-bit keys stored plus one (0 marks an empty slot),
 * and a character's reads are all started (prefetched) before the first is used. Whitespace is never inside a word:
 * it splits a sentence into runs, each a word of its own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LABELS 4 /* S B M E */
#define MAX_WORD 6
#define BOS 2
#define EOS 3
#define UNIGRAMS 5
#define BIGRAMS 4
#define OTHERS 10 /* templates 9..18 */

typedef struct {
    uint64_t key; /* the key plus one; 0: empty */
    int64_t row;
} Slot;

typedef struct {
    const Slot *slots; /* 2**bits */
    int bits;
    const float *rows; /* [row][width] */
    int width;
} Table;

typedef struct {
    Table unigrams, bigrams, others; /* rows: [template 0..4][label], [template 5..8][label], [label] */
    const uint64_t *lexicon;         /* 2**lexicon_bits slots of word hashes, 0 empty */
    int lexicon_bits;
    const double *transitions; /* [previous label][label] */
} Model;

static const float ZEROS[UNIGRAMS * LABELS];

static inline uint64_t slot_of(uint64_t key, int bits) { return (key * 0x9E3779B97F4A7C15ull) >> (64 - bits); }

static uint64_t free_slot(const uint64_t *key_of, size_t stride, int bits, uint64_t key) {
    const uint64_t mask = (1ull << bits) - 1;
    uint64_t s = slot_of(key, bits);
    while (key_of[s * stride] && key_of[s * stride] != key) s = (s + 1) & mask;
    return s;
}

/* Fill a table of rows (zeroed by the caller, fewer keys than slots): key i (plus one) → row i. */
void crf_build(Slot *slots, int bits, const uint64_t *keys, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        Slot *slot = slots + free_slot(&slots[0].key, sizeof(Slot) / sizeof(uint64_t), bits, keys[i] + 1);
        slot->key = keys[i] + 1;
        slot->row = i;
    }
}

/* Fill a set of word hashes. */
void crf_build_set(uint64_t *slots, int bits, const uint64_t *hashes, int64_t n) {
    for (int64_t i = 0; i < n; i++) slots[free_slot(slots, 1, bits, hashes[i])] = hashes[i];
}

/* The row of a key whose slot search starts at s (slot_of(key + 1)), or the zero row. */
static const float *row_of(const Table *t, uint64_t key, uint64_t s) {
    const uint64_t mask = (1ull << t->bits) - 1;
    for (key++; t->slots[s].key; s = (s + 1) & mask)
        if (t->slots[s].key == key) return t->rows + t->slots[s].row * t->width;
    return ZEROS;
}

static int in_lexicon(const Model *m, uint64_t h, uint64_t s) {
    const uint64_t mask = (1ull << m->lexicon_bits) - 1;
    for (; m->lexicon[s]; s = (s + 1) & mask)
        if (m->lexicon[s] == h) return 1;
    return 0;
}

/* Rows of n keys into out[], every slot read started before the first is used (where[]: scratch). */
static void rows_of(const Table *t, const uint64_t *keys, int64_t n, uint64_t *where, const float **out) {
    for (int64_t i = 0; i < n; i++) {
        where[i] = slot_of(keys[i] + 1, t->bits);
        __builtin_prefetch(t->slots + where[i]);
    }
    for (int64_t i = 0; i < n; i++) {
        out[i] = row_of(t, keys[i], where[i]);
        __builtin_prefetch(out[i]);
    }
}

static inline uint64_t mix(uint64_t h) {
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    return h ^ (h >> 31);
}

static int is_white(uint32_t c) {
    if (c == 0x20 || (c >= 0x09 && c <= 0x0D)) return 1;
    if (c < 0x85) return 0;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

enum { HAN, NUMERAL, DATE, DIGIT, LATIN, OTHER, BOS_TYPE, EOS_TYPE };

static int char_type(uint32_t c) {
    static const uint32_t numeral_cps[] = { /* 零○〇一二三四五六七八九十百千万亿两 */
                                           0x96F6, 0x25CB, 0x3007, 0x4E00, 0x4E8C, 0x4E09, 0x56DB, 0x4E94, 0x516D,
                                           0x4E03, 0x516B, 0x4E5D, 0x5341, 0x767E, 0x5343, 0x4E07, 0x4EBF, 0x4E24};
    static const uint32_t date_cps[] = {0x5E74, 0x6708, 0x65E5, 0x65F6, 0x5206, 0x79D2}; /* 年月日时分秒 */
    if (c == BOS) return BOS_TYPE;
    if (c == EOS) return EOS_TYPE;
    for (size_t i = 0; i < sizeof numeral_cps / sizeof *numeral_cps; i++)
        if (c == numeral_cps[i]) return NUMERAL;
    for (size_t i = 0; i < sizeof date_cps / sizeof *date_cps; i++)
        if (c == date_cps[i]) return DATE;
    if (c >= 0x30 && c <= 0x39) return DIGIT;
    if ((c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)) return LATIN;
    if ((c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
        (c >= 0x20000 && c <= 0x2FA1F)) return HAN;
    return OTHER;
}

static inline uint64_t key(uint64_t template, uint64_t a, uint64_t b) { return template << 42 | a << 21 | b; }

/* Scratch space for one run, sized for the longest (room = its length + 4). */
typedef struct {
    uint32_t *p;                              /* the run's code points, two BOS before and two EOS after */
    uint8_t *t, *starts, *ends, *inside;      /* per padded position: type; per character: lexicon spans */
    uint64_t *keys, *where;                   /* [room * OTHERS]: keys or word hashes, their first slots */
    const float **unigram, **bigram, **other; /* rows per position, per pair, per character's other features */
    uint8_t *count;                           /* per character: how many other features */
    double *score;                            /* [room][LABELS] */
    uint8_t *back, *labels;
} Work;

/* Viterbi over one run of n characters w->p[2..n+2). Each pass starts all of its table reads before it uses
 * the first (the reads are independent, so their memory latencies overlap). */
static void label_run(const Model *m, Work *w, int64_t n) {
    const uint32_t *p = w->p;
    const uint8_t *t = w->t;
    uint8_t *starts = w->starts, *ends = w->ends, *inside = w->inside;
    memset(starts, 0, n);
    memset(ends, 0, n);
    memset(inside, 0, n);
    for (int64_t a = 0; a < n; a++) { /* lexicon spans, as crf_features.lexicon_spans */
        uint64_t h = mix(0x9E3779B97F4A7C15ull ^ p[a + 2]);
        for (int64_t len = 2; len <= MAX_WORD && a + len <= n; len++) {
            const int64_t at = a * MAX_WORD + len;
            h = mix(h ^ p[a + len + 1]);
            w->keys[at] = h ? h : 1;
            w->where[at] = slot_of(w->keys[at], m->lexicon_bits);
            __builtin_prefetch(m->lexicon + w->where[at]);
        }
    }
    for (int64_t a = 0; a < n; a++) {
        for (int64_t len = 2; len <= MAX_WORD && a + len <= n; len++) {
            const int64_t at = a * MAX_WORD + len;
            if (in_lexicon(m, w->keys[at], w->where[at])) {
                const int64_t z = a + len - 1;
                starts[a] = (uint8_t)len;
                if (ends[z] < len) ends[z] = (uint8_t)len;
                for (int64_t i = a + 1; i < z; i++)
                    if (inside[i] < len) inside[i] = (uint8_t)len;
            }
        }
    }
    for (int64_t q = 0; q < n + 4; q++) w->keys[q] = p[q]; /* unigram[q]: the row of p[q] */
    rows_of(&m->unigrams, w->keys, n + 4, w->where, w->unigram);
    for (int64_t q = 0; q + 1 < n + 4; q++) w->keys[q] = (uint64_t)p[q] << 21 | p[q + 1]; /* bigram[q]: p[q] p[q+1] */
    rows_of(&m->bigrams, w->keys, n + 3, w->where, w->bigram);
    int64_t all = 0;
    for (int64_t i = 0; i < n; i++) { /* templates 9..18, in order, as crf_features.sentence_features */
        const int64_t j = i + 2;
        const uint32_t c = p[j];
        uint64_t *keys = w->keys + all;
        int k = 0;
        keys[k++] = key(9, p[j - 1], p[j + 1]);
        keys[k++] = key(10, (uint64_t)t[j - 1] << 6 | t[j] << 3 | t[j + 1], 0);
        keys[k++] = key(11, (uint64_t)t[j - 2] << 12 | t[j - 1] << 9 | t[j] << 6 | t[j + 1] << 3 | t[j + 2], 0);
        if (c == p[j - 1]) keys[k++] = key(12, 0, 0);
        if (c == p[j - 2]) keys[k++] = key(13, 0, 0);
        keys[k++] = key(14, starts[i], 0);
        keys[k++] = key(15, ends[i], 0);
        keys[k++] = key(16, inside[i], 0);
        keys[k++] = key(17, starts[i], c);
        keys[k++] = key(18, ends[i], c);
        w->count[i] = (uint8_t)k;
        all += k;
    }
    rows_of(&m->others, w->keys, all, w->where, w->other);
    const float **other = w->other;
    for (int64_t i = 0; i < n; i++) {
        const int64_t j = i + 2;
        double sum[LABELS] = {0.0, 0.0, 0.0, 0.0};
        /* in template order: the same sums as the Python decoder */
        for (int u = 0; u < UNIGRAMS; u++) /* template u: c[u - 2] */
            for (int l = 0; l < LABELS; l++) sum[l] += (double)w->unigram[j - 2 + u][u * LABELS + l];
        for (int b = 0; b < BIGRAMS; b++) /* template 5 + b: c[b - 2] c[b - 1] */
            for (int l = 0; l < LABELS; l++) sum[l] += (double)w->bigram[j - 2 + b][b * LABELS + l];
        for (int f = 0; f < w->count[i]; f++, other++)
            for (int l = 0; l < LABELS; l++) sum[l] += (double)(*other)[l];
        memcpy(w->score + i * LABELS, sum, sizeof sum);
    }
    const double *score = w->score;
    uint8_t *back = w->back, *labels = w->labels;
    double last[LABELS], now[LABELS];
    memcpy(last, score, sizeof last);
    for (int64_t i = 1; i < n; i++) {
        for (int l = 0; l < LABELS; l++) {
            double best = -1.7976931348623157e308;
            uint8_t arg = 0;
            for (int q = 0; q < LABELS; q++) {
                const double v = last[q] + m->transitions[q * LABELS + l];
                if (v > best) {
                    best = v;
                    arg = (uint8_t)q;
                }
            }
            back[i * LABELS + l] = arg;
            now[l] = best + score[i * LABELS + l];
        }
        memcpy(last, now, sizeof last);
    }
    int best = 0;
    for (int l = 1; l < LABELS; l++)
        if (last[l] > last[best]) best = l;
    for (int64_t i = n - 1; i >= 0; i--) {
        labels[i] = (uint8_t)best;
        best = back[i * LABELS + best];
    }
}

/* Segment sentences given as code points cps[starts[s]..starts[s+1]): out[i] = 1 where a word starts, else 0.
 * Full-width ASCII is read as ASCII (the model was trained so). Returns 0, or -1 when out of memory. */
int crf_segment(const Model *m, const uint32_t *cps, const int64_t *sentence_starts, int64_t n_sentences,
                uint8_t *out) {
    int64_t longest = 0;
    for (int64_t s = 0; s < n_sentences; s++)
        if (sentence_starts[s + 1] - sentence_starts[s] > longest) longest = sentence_starts[s + 1] - sentence_starts[s];
    const size_t room = (size_t)longest + 4;
    Work w = {malloc(sizeof(uint32_t) * room), malloc(room), malloc(room), malloc(room), malloc(room),
              malloc(sizeof(uint64_t) * room * OTHERS), malloc(sizeof(uint64_t) * room * OTHERS),
              malloc(sizeof(float *) * room), malloc(sizeof(float *) * room), malloc(sizeof(float *) * room * OTHERS),
              malloc(room), malloc(sizeof(double) * room * LABELS), malloc(room * LABELS), malloc(room)};
    const int failed = !w.p || !w.t || !w.starts || !w.ends || !w.inside || !w.keys || !w.where || !w.unigram ||
                       !w.bigram || !w.other || !w.count || !w.score || !w.back || !w.labels;
    for (int64_t s = 0; s < n_sentences && !failed; s++) {
        const int64_t end = sentence_starts[s + 1];
        int64_t i = sentence_starts[s];
        while (i < end) {
            if (is_white(cps[i])) {
                out[i++] = 1;
                continue;
            }
            int64_t n = 0;
            w.p[0] = w.p[1] = BOS;
            for (; i + n < end && !is_white(cps[i + n]); n++) {
                const uint32_t c = cps[i + n];
                w.p[n + 2] = c >= 0xFF01 && c <= 0xFF5E ? c - 0xFEE0 : c;
            }
            w.p[n + 2] = w.p[n + 3] = EOS;
            for (int64_t j = 0; j < n + 4; j++) w.t[j] = (uint8_t)char_type(w.p[j]);
            label_run(m, &w, n);
            for (int64_t j = 0; j < n; j++) out[i + j] = j == 0 || w.labels[j] <= 1; /* S or B */
            i += n;
        }
    }
    free(w.p), free(w.t), free(w.starts), free(w.ends), free(w.inside), free(w.keys), free(w.where);
    free((void *)w.unigram), free((void *)w.bigram), free((void *)w.other), free(w.count), free(w.score);
    free(w.back), free(w.labels);
    return failed ? -1 : 0;
}
