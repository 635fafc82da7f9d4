/* The polyphone model's forward pass (transforms/polyphone.py): for each target character, the BiLSTM's states at
 * it (the forward direction over the ids up to it, the backward one over the ids from it), the two-layer head, and
 * the best of the character's own readings with its probability among them.
 *
 * The arithmetic is fixed so that every machine gives the same bits, and so that polyphone.py's numpy path (for
 * workers without a C compiler) gives them too: float32 throughout, every dot product summed in index order starting
 * from its bias, no fused multiply-adds (native.FLAGS), and tanh and exp computed here from + - * / alone (no libm,
 * whose last bits differ between versions). Four lanes at a time with GCC/Clang vector types: each lane does the
 * scalar operations, so the lanes change the speed, not the result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef float v4 __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

/* exp(y) = 2**n · exp(r), n = round(y / ln 2), r = y − n·ln 2 (ln 2 in two parts, the first exact times n), exp(r)
 * by its Taylor series to r**6 (|r| ≤ ln 2 / 2: error ~1e-7 relative). y is clamped to ±80 so that 2**n stays a
 * normal float. n is rounded by adding 1.5·2**23, whose bits then hold it. */
#define EXP_LIMIT 80.0f
#define LOG2E 1.44269502f
#define LN2_HI 0.693145752f /* 0x3f317200: 15 significant bits */
#define LN2_LO 1.42860677e-06f
#define SHIFTER 12582912.0f /* 1.5 · 2**23 */
#define SHIFTER_BITS 0x4b400000

typedef struct {
    const float *gate_table;     /* [2V + 1][4H]: forward rows, then backward rows (offset V); gates halved */
    const float *hidden_weights; /* [2][H][4H]: forward, backward */
    const float *fc1;            /* [2H][F] */
    const float *fc1_bias;       /* [F] */
    const float *fc2;            /* [F][C] */
    const float *fc2_bias;       /* [C] */
    const int32_t *id_of;        /* [CODE_POINTS]: each code point's model id */
    int64_t vocabulary, hidden, fc_hidden, classes, begin, end, unknown; /* the last three: ids of the marks */
} Model;

#define CODE_POINTS 0x110000

static inline v4 splat(float x) { return (v4){x, x, x, x}; }

static inline v4 load4(const float *p) {
    v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store4(float *p, v4 v) { memcpy(p, &v, sizeof v); }

static inline v4 select4(v4i mask, v4 yes, v4 no) { return (v4)(((v4i)yes & mask) | ((v4i)no & ~mask)); }

static inline v4 exp4(v4 y) {
    y = select4(y > splat(EXP_LIMIT), splat(EXP_LIMIT), y);
    y = select4(y < splat(-EXP_LIMIT), splat(-EXP_LIMIT), y);
    v4 t = y * splat(LOG2E) + splat(SHIFTER);
    v4 n = t - splat(SHIFTER);
    v4 r = (y - n * splat(LN2_HI)) - n * splat(LN2_LO);
    v4 p = splat(1.0f / 720.0f) * r + splat(1.0f / 120.0f);
    p = p * r + splat(1.0f / 24.0f);
    p = p * r + splat(1.0f / 6.0f);
    p = p * r + splat(0.5f);
    p = p * r + splat(1.0f);
    p = p * r + splat(1.0f);
    v4i scale = (((v4i)t - SHIFTER_BITS) + 127) << 23;
    return p * (v4)scale;
}

/* tanh(x) = 1 − 2 / (exp(2x) + 1): exactly 0 at 0, ±1 far out, absolute error ~1e-7 */
static inline v4 tanh4(v4 x) { return splat(1.0f) - splat(2.0f) / (exp4(x + x) + splat(1.0f)); }

/* out[j] = bias[j] + x[0]·w[0][j] + x[1]·w[1][j] + … in that order (w: [n][width], width a multiple of 4). Eight
 * columns of four at a time: eight independent sums keep the adder busy where one would wait on each add. */
static void affine(const float *bias, const float *x, int64_t n, const float *w, int64_t width, float *out) {
    int64_t j = 0;
    for (; j + 32 <= width; j += 32) {
        v4 a0 = load4(bias + j), a1 = load4(bias + j + 4), a2 = load4(bias + j + 8), a3 = load4(bias + j + 12);
        v4 a4 = load4(bias + j + 16), a5 = load4(bias + j + 20), a6 = load4(bias + j + 24), a7 = load4(bias + j + 28);
        for (int64_t k = 0; k < n; k++) {
            const v4 xk = splat(x[k]);
            const float *row = w + k * width + j;
            a0 = a0 + xk * load4(row), a1 = a1 + xk * load4(row + 4), a2 = a2 + xk * load4(row + 8);
            a3 = a3 + xk * load4(row + 12), a4 = a4 + xk * load4(row + 16), a5 = a5 + xk * load4(row + 20);
            a6 = a6 + xk * load4(row + 24), a7 = a7 + xk * load4(row + 28);
        }
        store4(out + j, a0), store4(out + j + 4, a1), store4(out + j + 8, a2), store4(out + j + 12, a3);
        store4(out + j + 16, a4), store4(out + j + 20, a5), store4(out + j + 24, a6), store4(out + j + 28, a7);
    }
    for (; j < width; j += 4) {
        v4 a = load4(bias + j);
        for (int64_t k = 0; k < n; k++)
            a = a + splat(x[k]) * load4(w + k * width + j);
        store4(out + j, a);
    }
}

/* One LSTM step: gates = table row + h · W (W: [H][4H]); the input, forget and output gates' columns are halved
 * in the model, so (tanh + 1) / 2 is their sigmoid. `pre` is scratch of 4H floats. */
static void step(const float *row, const float *w, int64_t hidden, float *h, float *c, float *pre) {
    const int64_t width = 4 * hidden;
    affine(row, h, hidden, w, width, pre);
    for (int64_t j = 0; j < width; j += 4)
        store4(pre + j, tanh4(load4(pre + j)));
    for (int64_t j = 0; j < hidden; j += 4) {
        v4 in = (load4(pre + j) + splat(1.0f)) * splat(0.5f);
        v4 forget = (load4(pre + hidden + j) + splat(1.0f)) * splat(0.5f);
        v4 out = (load4(pre + 3 * hidden + j) + splat(1.0f)) * splat(0.5f);
        v4 cell = forget * load4(c + j) + in * load4(pre + 2 * hidden + j);
        store4(c + j, cell);
        store4(h + j, out * tanh4(cell));
    }
}

static inline int64_t id_of(const Model *m, uint32_t code_point) {
    return code_point < CODE_POINTS ? m->id_of[code_point] : m->unknown;
}

/* For each job j: sentence s = jobs[j] (its code points cps[offsets[s] .. offsets[s + 1])), the target character
 * at index jobs[jobs_count + j] in it, its candidate classes candidates[candidate_offsets[j] ..
 * candidate_offsets[j + 1]). The model reads the sentence between its begin and end marks. Writes the first
 * candidate of highest logit and its softmax probability among the candidates. Returns 0, 1 when out of memory, 2
 * on a size or place it does not handle. */
int poly_choose(const Model *m, const uint32_t *cps, const int64_t *offsets, const int64_t *jobs, int64_t count,
                const int32_t *candidates, const int64_t *candidate_offsets, int32_t *best, float *confidence) {
    const int64_t H = m->hidden, F = m->fc_hidden, C = m->classes;
    if (H % 4 || F % 4 || H <= 0 || F <= 0)
        return 2;
    float *scratch = malloc(sizeof(float) * (size_t)(4 * H + 4 * H + 2 * F));
    if (!scratch)
        return 1;
    float *pre = scratch, *state = pre + 4 * H, *cell = state + 2 * H, *hidden = cell + 2 * H;
    const float *backward_weights = m->hidden_weights + H * 4 * H;
    const float *backward_rows = m->gate_table + m->vocabulary * 4 * H;
    for (int64_t j = 0; j < count; j++) {
        const uint32_t *sentence = cps + offsets[jobs[j]];
        const int64_t length = offsets[jobs[j] + 1] - offsets[jobs[j]], place = jobs[count + j];
        if (place < 0 || place >= length) {
            free(scratch);
            return 2;
        }
        memset(state, 0, sizeof(float) * (size_t)(4 * H)); /* both directions' h, then both c */
        step(m->gate_table + m->begin * 4 * H, m->hidden_weights, H, state, cell, pre);
        for (int64_t t = 0; t <= place; t++)
            step(m->gate_table + id_of(m, sentence[t]) * 4 * H, m->hidden_weights, H, state, cell, pre);
        step(backward_rows + m->end * 4 * H, backward_weights, H, state + H, cell + H, pre);
        for (int64_t t = length - 1; t >= place; t--)
            step(backward_rows + id_of(m, sentence[t]) * 4 * H, backward_weights, H, state + H, cell + H, pre);
        affine(m->fc1_bias, state, 2 * H, m->fc1, F, hidden);
        for (int64_t f = 0; f < F; f += 4)
            store4(hidden + f, select4(load4(hidden + f) > splat(0.0f), load4(hidden + f), splat(0.0f)));
        const int32_t *cand = candidates + candidate_offsets[j];
        const int64_t n = candidate_offsets[j + 1] - candidate_offsets[j];
        float logits[64];
        if (n < 1 || n > 64) {
            free(scratch);
            return 2;
        }
        int64_t top = 0;
        for (int64_t i = 0; i < n; i++) {
            float acc = m->fc2_bias[cand[i]];
            for (int64_t f = 0; f < F; f++)
                acc = acc + hidden[f] * m->fc2[f * C + cand[i]];
            logits[i] = acc;
            if (acc > logits[top])
                top = i;
        }
        float sum = 0.0f;
        for (int64_t i = 0; i < n; i++)
            sum = sum + exp4(splat(logits[i] - logits[top]))[0];
        best[j] = cand[top];
        confidence[j] = 1.0f / sum;
    }
    free(scratch);
    return 0;
}
