/*
 * dense.c - CHUNK_ENC_DENSE, the sealed whole-chunk encoding the block
 * writer uses (through chunk_encode) and the querier decodes. Byte layout,
 * box tables and worked examples: docs/format/chunks.md ("Dense chunks").
 *
 * Model, per chunk:
 *   timestamps  t0, then the median delta; when every delta equals it (the
 *               usual scrape) nothing else, otherwise each delta's zigzag
 *               residual against it.
 *   values      the smallest decimal exponent d with every value exactly
 *               (double)m / 10^d (|m| < 2^53, checked bit for bit), so the
 *               integers m carry the information; values that are not such
 *               decimals (NaN, stale markers, +-Inf, -0.0, ...) are kept as
 *               raw 64-bit exceptions when they are few, else FLINT_ERANGE
 *               and chunk.c falls back to XOR. The integers go through a
 *               per-chunk delta order (0, 1, 2), minus a bias, divided by
 *               the gcd, zigzagged unless all non-negative.
 *   residual z  symbol = bit length of z (0..64), static rANS with a
 *               per-chunk frequency table (a single symbol costs no bits);
 *               the bits of z below its leading one go raw to a bit stream.
 * Decoding runs in batches (CHUNK_BATCH) with one specialised loop per
 * (order, regular/irregular time, signed/unsigned) combination.
 *
 * Example 3 of docs/format/chunks.md, four samples of 1 every 15 s:
 *   00 00 04 80 a0 ab fe f9 62 98 75 00 02
 *   flags (order 0, regular, no rANS) | d=0 | n=4 | t0 varint | delta 15000
 *   | value table "symbol 0 only" | bias 1. Nothing per sample.
 * Example 4 there walks a counter through the rANS decoder step by step.
 */
#include "storage/bstream.h"
#include "storage/chunk_int.h"
#include "storage/err.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DENSE_NSYM 65     /* residual bit lengths 0..64 */
#define DENSE_MAX_DEXP 22 /* 10^22 is the largest exact power of ten */
#define RANS_L (UINT32_C(1) << 23)
/* From this many symbols on a chunk codes them with two interleaved rANS
 * states: 4 more bytes, and the decoder's two dependency chains overlap. */
#define DENSE_LANES_MIN 64
#define TWO53 9007199254740992.0

enum {
    DENSE_F_ORDER = 0x03,      /* value delta order 0..2 */
    DENSE_F_UNSIGNED = 0x04,   /* residuals are not zigzagged */
    DENSE_F_IRREGULAR = 0x08,  /* timestamp residuals present */
    DENSE_F_EXCEPTIONS = 0x10, /* raw 64-bit values list present */
    DENSE_F_RANS = 0x20,       /* rANS stream present */
    DENSE_F_LANES = 0x40,      /* two interleaved rANS states (with DENSE_F_RANS) */
    DENSE_F_RESERVED = 0x80,
};

static const double dense_p10[DENSE_MAX_DEXP + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static unsigned bitlen64(uint64_t z) { return z ? 64u - (unsigned)__builtin_clzll(z) : 0; }


/* =========================================================================
 * Encoder
 * ========================================================================= */

/* m with (double)m / 10^d == v bit for bit and |m| < 2^53. */
static bool dense_decimal_at(double v, unsigned d, int64_t *m) {
    double p = dense_p10[d];
    double x = v * p;
    if (!(fabs(x) < TWO53)) return false; /* also NaN and +-Inf */
    int64_t c = (int64_t)(x < 0 ? x - 0.5 : x + 0.5); /* near m; the neighbours are tried too */
    uint64_t want = dbits(v);
    /* v * 10^d is rounded twice; the exact m is c or a neighbour */
    static const int64_t nudge[3] = {0, -1, 1};
    for (int k = 0; k < 3; k++) {
        int64_t cand = c + nudge[k];
        if (cand <= -(INT64_C(1) << 53) || cand >= (INT64_C(1) << 53)) continue;
        double back = d ? (double)cand / p : (double)cand;
        if (dbits(back) == want) {
            *m = cand;
            return true;
        }
    }
    return false;
}

/* Smallest decimal exponent d of v with its integer (v == *m / 10^d), -1
 * when v is not such a decimal. The search starts at `guess`, the previous
 * value's exponent and usually right, so it costs one division: a decimal at
 * d whose m is divisible by 10 is the same decimal at d - 1. */
static int dense_min_dexp(double v, int guess, int64_t *m) {
    int d = guess < 0 ? 0 : guess;
    if (!dense_decimal_at(v, (unsigned)d, m)) {
        int up = d + 1;
        while (up <= DENSE_MAX_DEXP && !dense_decimal_at(v, (unsigned)up, m)) up++;
        if (up > DENSE_MAX_DEXP) {
            /* fits a shorter exponent only (m * 10^k would pass 2^53) */
            while (--d >= 0 && !dense_decimal_at(v, (unsigned)d, m)) {
            }
            if (d < 0) return -1;
        } else {
            d = up;
        }
    }
    while (d > 0 && *m % 10 == 0) {
        *m /= 10;
        d--;
    }
    return d;
}

/* 10^k as integers, and the largest |m| with |m * 10^k| < 2^53. */
#define P10I(k)                                                                                           \
    (k == 0 ? 1LL : k == 1 ? 10LL : k == 2 ? 100LL : k == 3 ? 1000LL : k == 4 ? 10000LL : k == 5 ? 100000LL \
     : k == 6 ? 1000000LL : k == 7 ? 10000000LL : k == 8 ? 100000000LL : k == 9 ? 1000000000LL                \
     : k == 10 ? 10000000000LL : k == 11 ? 100000000000LL : k == 12 ? 1000000000000LL                       \
     : k == 13 ? 10000000000000LL : k == 14 ? 100000000000000LL : k == 15 ? 1000000000000000LL              \
     : k == 16 ? 10000000000000000LL : k == 17 ? 100000000000000000LL : 1000000000000000000LL)
#define P10_ROW(f) {f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8), f(9), f(10), f(11), f(12), \
                    f(13), f(14), f(15), f(16), f(17), f(18)}
#define M53_LIMIT(k) (((1LL << 53) - 1) / P10I(k))
static const int64_t dense_p10i[19] = P10_ROW(P10I);
static const int64_t dense_m_limit[19] = P10_ROW(M53_LIMIT);

/* m (the integer of a decimal with exponent d) rescaled to exponent dexp >=
 * d; false if it leaves +-2^53. The rescaled decimal is the same rational
 * number, so (double)m / 10^dexp is still bit for bit the value. */
static bool dense_rescale(int64_t m, unsigned d, unsigned dexp, int64_t *out) {
    unsigned k = dexp - d;
    if (k > 18) return m == 0 ? (*out = 0, true) : false;
    if (m > dense_m_limit[k] || m < -dense_m_limit[k]) return false;
    *out = m * dense_p10i[k];
    return true;
}

/* k-th smallest of a[0..n) (reorders a). Median-of-three quickselect that
 * falls back to sorting when the data defeats it. */
static int cmp_i64(const void *pa, const void *pb) {
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return (a > b) - (a < b);
}

static int64_t dense_select(int64_t *a, size_t n, size_t k) {
    size_t lo = 0, hi = n - 1;
    for (int rounds = 0; lo < hi; rounds++) {
        if (rounds > 48) {
            qsort(a + lo, hi - lo + 1, sizeof *a, cmp_i64);
            return a[k];
        }
        size_t mid = lo + (hi - lo) / 2;
        int64_t x = a[lo], y = a[mid], z = a[hi];
        int64_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                int64_t t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k];
    }
    return a[k];
}

static uint64_t gcd64(uint64_t a, uint64_t b) {
    if (a == 0) return b;
    if (b == 0) return a;
    unsigned shift = (unsigned)__builtin_ctzll(a | b);
    a >>= __builtin_ctzll(a);
    do {
        b >>= __builtin_ctzll(b);
        if (a > b) {
            uint64_t t = a;
            a = b;
            b = t;
        }
        b -= a;
    } while (b);
    return a << shift;
}

static uint64_t abs_diff(int64_t a, int64_t b) { return a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a; }

/* A residual transform: z = zigzag((r - bias) / gcd), or without zigzag. */
typedef struct dense_model {
    unsigned order;
    bool is_unsigned;
    int64_t bias;
    uint64_t gcd;
    double bits; /* estimated cost */
} dense_model;

static uint64_t dense_transform(int64_t r, const dense_model *md) {
    int64_t q = r - md->bias;
    if (md->gcd > 1) q /= (int64_t)md->gcd;
    return md->is_unsigned ? (uint64_t)q : zigzag_enc(q);
}

/* Estimated bits of residuals r[0..k) under md's bias and signedness
 * (setting md->gcd): symbol entropy plus raw bits plus the header fields the
 * choice adds. g0 is the gcd of all r[i] - r[0] and qd[i] = (r[i] - r[0]) /
 * g0, so the usual case, gcd(r - bias) == g0, needs no division here. */
static void dense_model_cost(const int64_t *r, const int64_t *qd, size_t k, uint64_t g0, dense_model *md) {
    uint64_t g = gcd64(g0, abs_diff(r[0], md->bias));
    md->gcd = g ? g : 1;
    /* four histograms, so runs of one symbol do not wait on each other */
    uint32_t c4[4][DENSE_NSYM] = {{0}}, cnt[DENSE_NSYM];
    if (g0 != 0 && g == g0) {
        int64_t c = (r[0] - md->bias) / (int64_t)g0;
        if (md->is_unsigned) {
            for (size_t i = 0; i < k; i++) c4[i & 3][bitlen64((uint64_t)(qd[i] + c))]++;
        } else {
            for (size_t i = 0; i < k; i++) c4[i & 3][bitlen64(zigzag_enc(qd[i] + c))]++;
        }
    } else {
        for (size_t i = 0; i < k; i++) c4[i & 3][bitlen64(dense_transform(r[i], md))]++;
    }
    for (unsigned s = 0; s < DENSE_NSYM; s++) cnt[s] = c4[0][s] + c4[1][s] + c4[2][s] + c4[3][s];
    double h = 0, raw = 0;
    unsigned distinct = 0;
    for (unsigned s = 0; s < DENSE_NSYM; s++) {
        if (!cnt[s]) continue;
        distinct++;
        h += cnt[s] * log2((double)k / cnt[s]);
        raw += (double)cnt[s] * (s ? s - 1 : 0);
    }
    md->bits = h + raw + 8.0 * (double)(uvarint_len(zigzag_enc(md->bias)) + uvarint_len(md->gcd - 1)) +
               6.0 * distinct;
}

/* The integers the model sees for order `order`: m where the value is
 * decimal; at an exception (exc[i]) the extrapolation that repeats the
 * previous residual, so the stand-in neither breaks the gcd nor adds a
 * symbol (falling back to the previous integer near the start or when the
 * extrapolation leaves +-2^53). first_ok is the first non-exception. */
static void dense_fill(const int64_t *m, const uint8_t *exc, size_t n, unsigned order, size_t first_ok,
                       int64_t *mo) {
    for (size_t i = 0; i < n; i++) {
        if (!exc[i]) {
            mo[i] = m[i];
        } else if (i < first_ok) {
            mo[i] = m[first_ok];
        } else if (i > order) {
            int64_t x = order == 0 ? mo[i - 1]
                        : order == 1 ? 2 * mo[i - 1] - mo[i - 2]
                                     : 3 * mo[i - 1] - 3 * mo[i - 2] + mo[i - 3];
            mo[i] = (x > -(INT64_C(1) << 53) && x < (INT64_C(1) << 53)) ? x : mo[i - 1];
        } else {
            mo[i] = mo[i - 1];
        }
    }
}

/* Residuals of order `order` of m[0..n) into r[0..n-order). */
static size_t dense_residuals(const int64_t *m, size_t n, unsigned order, int64_t *r) {
    size_t k = 0;
    for (size_t i = order; i < n; i++) {
        if (order == 0) r[k++] = m[i];
        else if (order == 1) r[k++] = m[i] - m[i - 1];
        else r[k++] = (m[i] - m[i - 1]) - (m[i - 1] - m[i - 2]);
    }
    return k;
}

/* Cheapest (order, bias, signedness) for the integers m[0..n) (see
 * dense_fill for exc and first_ok); mo, r and tmp are scratch. */
static dense_model dense_choose_model(const int64_t *m, const uint8_t *exc, size_t n, size_t first_ok,
                                      int64_t *mo, int64_t *r, int64_t *tmp) {
    dense_model best = {.bits = INFINITY};
    for (unsigned order = 0; order <= 2 && order < n; order++) {
        dense_fill(m, exc, n, order, first_ok, mo);
        size_t k = dense_residuals(mo, n, order, r);
        memcpy(tmp, r, k * sizeof *r);
        int64_t med = dense_select(tmp, k, k / 2);
        int64_t mn = r[0];
        uint64_t g0 = 0;
        for (size_t i = 1; i < k; i++) {
            mn = r[i] < mn ? r[i] : mn;
            uint64_t diff = abs_diff(r[i], r[0]);
            /* most differences are multiples of the gcd so far: test that first */
            if (g0 != 1 && (g0 == 0 || diff % g0 != 0)) g0 = gcd64(g0, diff);
        }
        if (g0 > 1 && (g0 & (g0 - 1)) == 0) {
            unsigned sh = (unsigned)__builtin_ctzll(g0);
            for (size_t i = 0; i < k; i++) tmp[i] = (r[i] - r[0]) >> sh; /* exact: multiples of g0 */
        } else if (g0 > 1) {
            for (size_t i = 0; i < k; i++) tmp[i] = (r[i] - r[0]) / (int64_t)g0;
        } else {
            for (size_t i = 0; i < k; i++) tmp[i] = r[i] - r[0];
        }
        double head = 0;
        if (order >= 1) head += 8.0 * (double)uvarint_len(zigzag_enc(mo[0]));
        if (order == 2) head += 8.0 * (double)uvarint_len(zigzag_enc(mo[1] - mo[0]));
        dense_model cand[3] = {
            {order, false, med, 1, 0},
            {order, true, mn, 1, 0},
            {order, false, 0, 1, 0},
        };
        for (unsigned c = 0; c < 3; c++) {
            if (c == 2 && med == 0) continue;
            dense_model_cost(r, tmp, k, g0, &cand[c]);
            cand[c].bits += head;
            if (cand[c].bits < best.bits) best = cand[c];
        }
    }
    return best;
}

/* ---- frequency tables ---------------------------------------------------- */

/* A table over symbols s0..s0+nsym-1 normalised to 2^tlog (tlog 0: a single
 * symbol, no bits per sample). */
typedef struct dense_table {
    unsigned s0, nsym, tlog;
    uint32_t freq[DENSE_NSYM], cum[DENSE_NSYM];
} dense_table;

static unsigned gamma_len(uint32_t x) { return 2 * (bitlen64(x) - 1) + 1; }

/* Normalise counts cnt (sum total) over the table's range to 2^tlog with
 * every present symbol >= 1, greedily fixing the rounding where it costs
 * least. Returns the estimated coding cost in bits. */
static double dense_normalize(const uint32_t *cnt, uint32_t total, dense_table *t, unsigned tlog) {
    uint32_t M = UINT32_C(1) << tlog;
    int64_t sum = 0;
    unsigned end = t->s0 + t->nsym;
    for (unsigned s = t->s0; s < end; s++) {
        uint32_t f = 0;
        if (cnt[s]) {
            f = (uint32_t)(((uint64_t)cnt[s] * M + total / 2) / total);
            if (f == 0) f = 1;
        }
        t->freq[s] = f;
        sum += f;
    }
    while (sum != M) {
        unsigned pick = end;
        double best = INFINITY;
        for (unsigned s = t->s0; s < end; s++) {
            if (!cnt[s] || (sum > M && t->freq[s] <= 1)) continue;
            double f = t->freq[s];
            /* cost change of moving this symbol's frequency by one */
            double delta = sum > M ? cnt[s] * log2(f / (f - 1)) : -cnt[s] * log2((f + 1) / f);
            if (delta < best) {
                best = delta;
                pick = s;
            }
        }
        assert(pick != end); /* M >= the present symbols, each keeps >= 1 */
        if (pick == end) break;
        if (sum > M) {
            t->freq[pick]--;
            sum--;
        } else {
            t->freq[pick]++;
            sum++;
        }
    }
    double bits = 0;
    uint32_t c = 0;
    for (unsigned s = t->s0; s < end; s++) {
        t->cum[s] = c;
        c += t->freq[s];
        if (cnt[s]) bits += cnt[s] * (double)(tlog - log2(t->freq[s]));
    }
    return bits;
}

static unsigned dense_table_bits(const dense_table *t) {
    if (t->nsym == 1) return 8;
    unsigned bits = 1 + 7 + 6 + 4;
    for (unsigned s = t->s0; s + 1 < t->s0 + t->nsym; s++) bits += gamma_len(t->freq[s] + 1);
    return bits;
}

/* The cheapest table (size plus coded symbols) for counts cnt[]. */
static void dense_build_table(const uint32_t *cnt, unsigned tlog_max, dense_table *t) {
    unsigned lo = DENSE_NSYM, hi = 0, present = 0;
    uint32_t total = 0;
    for (unsigned s = 0; s < DENSE_NSYM; s++) {
        if (!cnt[s]) continue;
        lo = s < lo ? s : lo;
        hi = s;
        present++;
        total += cnt[s];
    }
    memset(t, 0, sizeof *t);
    if (present <= 1) {
        t->s0 = present ? lo : 0;
        t->nsym = 1;
        t->tlog = 0;
        t->freq[t->s0] = 1;
        return;
    }
    t->s0 = lo;
    t->nsym = hi - lo + 1;
    unsigned tlog_lo = bitlen64(present - 1);
    double best = INFINITY;
    unsigned best_tlog = tlog_max;
    for (unsigned tlog = tlog_lo; tlog <= tlog_max; tlog++) {
        double bits = dense_normalize(cnt, total, t, tlog) + dense_table_bits(t);
        if (bits < best) {
            best = bits;
            best_tlog = tlog;
        }
    }
    t->tlog = best_tlog;
    dense_normalize(cnt, total, t, best_tlog);
}

static void dense_put_table(bstream_w *w, const dense_table *t) {
    if (t->nsym == 1) {
        bstream_write(w, t->s0, 8);
        return;
    }
    bstream_write_bit(w, 1);
    bstream_write(w, t->s0, 7);
    bstream_write(w, t->nsym - 2, 6);
    bstream_write(w, t->tlog, 4);
    for (unsigned s = t->s0; s + 1 < t->s0 + t->nsym; s++) {
        uint32_t x = t->freq[s] + 1;
        unsigned nb = bitlen64(x);
        bstream_write(w, 0, nb - 1);
        bstream_write(w, x, nb);
    }
    w->nbits = (w->nbits + 7) & ~UINT64_C(7);
}

/* ---- rANS (byte-wise, 32-bit state, after ryg_rans) ----------------------- */

/* Per-symbol encoder constants: x -> x/freq * M + x%freq + cum computed as
 * x + bias + q * (M - freq) with q = x/freq from a reciprocal
 * (Alverson's method, as ryg_rans' RansEncSymbolInit). */
typedef struct rans_sym {
    uint32_t x_max, rcp, shift, bias, cmpl;
} rans_sym;

static void rans_sym_init(rans_sym *e, uint32_t cum, uint32_t freq, unsigned tlog) {
    e->x_max = ((RANS_L >> tlog) << 8) * freq;
    e->cmpl = (UINT32_C(1) << tlog) - freq;
    if (freq < 2) {
        /* q = x - 1 (rcp = 2^32 - 1): x*M + cum = bias + x + (x-1)(M-1) */
        e->rcp = ~UINT32_C(0);
        e->shift = 0;
        e->bias = cum + (UINT32_C(1) << tlog) - 1;
    } else {
        uint32_t shift = 0;
        while (freq > (UINT32_C(1) << shift)) shift++;
        e->rcp = (uint32_t)(((UINT64_C(1) << (shift + 31)) + freq - 1) / freq);
        e->shift = shift - 1;
        e->bias = cum;
    }
}

static inline void rans_put(uint32_t *x, uint8_t **p, const rans_sym *e) {
    uint32_t v = *x;
    while (v >= e->x_max) {
        *--*p = (uint8_t)v;
        v >>= 8;
    }
    uint32_t q = (uint32_t)(((uint64_t)v * e->rcp) >> 32) >> e->shift;
    *x = v + e->bias + q * e->cmpl;
}

/* ---- the whole encoder ---------------------------------------------------- */

typedef struct dense_scratch {
    int64_t *mraw; /* each value's integer at its own smallest exponent dmin */
    int64_t *m, *mo, *r, *tmp;
    uint64_t *tz, *vz;
    int8_t *dmin;
    uint8_t *exc;
    uint8_t *rans;
    size_t rans_cap;
} dense_scratch;

/* Encode with decimal exponent dexp (values needing more become
 * exceptions) and append to out. */
static int dense_encode_at(const int64_t *ts, const double *vs, size_t n, unsigned dexp,
                           dense_scratch *sc, fl_buf *out) {
    /* integers, exceptions carried forward from the previous integer */
    size_t nexc = 0, first_ok = n;
    for (size_t i = 0; i < n; i++) {
        sc->exc[i] = !(sc->dmin[i] >= 0 && (unsigned)sc->dmin[i] <= dexp &&
                       dense_rescale(sc->mraw[i], (unsigned)sc->dmin[i], dexp, &sc->m[i]));
        if (sc->exc[i]) nexc++;
        else if (first_ok == n) first_ok = i;
    }
    if (first_ok == n || nexc > n / 4)
        return flint_error(FLINT_ERANGE, "dense chunk: %zu of %zu values are not decimals", nexc, n);

    /* timestamps: median delta, residuals against it */
    uint64_t tdelta = 0;
    bool irregular = false;
    if (n > 1) {
        tdelta = (uint64_t)ts[1] - (uint64_t)ts[0];
        for (size_t i = 2; i < n && !irregular; i++) irregular = (uint64_t)ts[i] - (uint64_t)ts[i - 1] != tdelta;
        if (irregular) {
            /* order-preserving map of uint64 deltas onto int64 */
            for (size_t i = 1; i < n; i++)
                sc->tmp[i - 1] = (int64_t)(((uint64_t)ts[i] - (uint64_t)ts[i - 1]) ^ (UINT64_C(1) << 63));
            tdelta = (uint64_t)dense_select(sc->tmp, n - 1, (n - 1) / 2) ^ (UINT64_C(1) << 63);
            for (size_t i = 1; i < n; i++)
                sc->tz[i] = zigzag_enc((int64_t)((uint64_t)ts[i] - (uint64_t)ts[i - 1] - tdelta));
        }
    }

    /* values */
    dense_model md = dense_choose_model(sc->m, sc->exc, n, first_ok, sc->mo, sc->r, sc->tmp);
    dense_fill(sc->m, sc->exc, n, md.order, first_ok, sc->mo);
    size_t k = dense_residuals(sc->mo, n, md.order, sc->r);
    for (size_t i = 0; i < k; i++) sc->vz[md.order + i] = dense_transform(sc->r[i], &md);

    /* tables */
    uint32_t tcnt[DENSE_NSYM] = {0}, vcnt[DENSE_NSYM] = {0};
    uint64_t raw_bits = 0;
    for (size_t i = 1; irregular && i < n; i++) {
        unsigned s = bitlen64(sc->tz[i]);
        tcnt[s]++;
        raw_bits += s ? s - 1 : 0;
    }
    for (size_t i = md.order; i < n; i++) {
        unsigned s = bitlen64(sc->vz[i]);
        vcnt[s]++;
        raw_bits += s ? s - 1 : 0;
    }
    dense_table tt, vt;
    dense_build_table(tcnt, CHUNK_DENSE_TLOG_T, &tt);
    dense_build_table(vcnt, CHUNK_DENSE_TLOG_V, &vt);
    bool use_rans = (irregular && tt.tlog > 0) || vt.tlog > 0;

    /* rANS, backwards: per sample the decoder takes the time symbol, then
     * the value symbol */
    uint8_t *rans_end = sc->rans + sc->rans_cap, *rp = rans_end;
    bool lanes = false;
    if (use_rans) {
        rans_sym te[DENSE_NSYM], ve[DENSE_NSYM];
        for (unsigned s = tt.s0; irregular && s < tt.s0 + tt.nsym; s++)
            if (tt.freq[s]) rans_sym_init(&te[s], tt.cum[s], tt.freq[s], tt.tlog);
        for (unsigned s = vt.s0; s < vt.s0 + vt.nsym; s++)
            if (vt.freq[s]) rans_sym_init(&ve[s], vt.cum[s], vt.freq[s], vt.tlog);
        /* symbol j (decode order) goes to state j mod 2 with two lanes */
        size_t j = (n - md.order) + (irregular ? n - 1 : 0);
        lanes = j >= DENSE_LANES_MIN;
        uint32_t x[2] = {RANS_L, RANS_L};
        for (size_t i = n; i-- > 0;) {
            if (i >= md.order) rans_put(&x[--j & lanes], &rp, &ve[bitlen64(sc->vz[i])]);
            if (irregular && i >= 1) rans_put(&x[--j & lanes], &rp, &te[bitlen64(sc->tz[i])]);
        }
        for (int l = lanes; l >= 0; l--) {
            rp -= 4;
            rp[0] = (uint8_t)x[l];
            rp[1] = (uint8_t)(x[l] >> 8);
            rp[2] = (uint8_t)(x[l] >> 16);
            rp[3] = (uint8_t)(x[l] >> 24);
        }
    }
    size_t rans_len = (size_t)(rans_end - rp);

    /* header */
    uint8_t hdr[640];
    size_t h = 0;
    hdr[h++] = (uint8_t)(md.order | (md.is_unsigned ? DENSE_F_UNSIGNED : 0) |
                         (irregular ? DENSE_F_IRREGULAR : 0) | (nexc ? DENSE_F_EXCEPTIONS : 0) |
                         (use_rans ? DENSE_F_RANS : 0) | (lanes ? DENSE_F_LANES : 0));
    hdr[h++] = (uint8_t)dexp;
    h += uvarint_put(hdr + h, n);
    h += varint_put(hdr + h, ts[0]);
    if (n > 1) h += uvarint_put(hdr + h, tdelta);
    bstream_w w = {hdr + h, 0};
    memset(hdr + h, 0, sizeof hdr - h);
    if (irregular) dense_put_table(&w, &tt);
    dense_put_table(&w, &vt);
    h += bstream_bytes(&w);
    if (!(vt.nsym == 1 && vt.s0 == 0)) h += uvarint_put(hdr + h, md.gcd - 1);
    h += varint_put(hdr + h, md.bias);
    if (md.order >= 1) h += varint_put(hdr + h, sc->mo[0]);
    if (md.order == 2) h += varint_put(hdr + h, sc->mo[1] - sc->mo[0]);
    size_t exc_len = 0;
    if (nexc) {
        exc_len = uvarint_len(nexc);
        for (size_t i = 0, prev = 0, seen = 0; i < n; i++) {
            if (!sc->exc[i]) continue;
            exc_len += uvarint_len(seen ? i - prev - 1 : i) + 8;
            prev = i;
            seen = 1;
        }
    }
    size_t raw_len = (size_t)((raw_bits + 7) / 8);
    size_t total = h + exc_len + (use_rans ? uvarint_len(rans_len) + rans_len : 0) + raw_len;
    int rc = fl_buf_reserve(out, total);
    if (rc) return flint_error(rc, "dense chunk: out of memory for %zu bytes", total);

    /* nothing below allocates */
    fl_buf_put(out, hdr, h);
    if (nexc) {
        fl_buf_put_uvarint(out, nexc);
        for (size_t i = 0, prev = 0, seen = 0; i < n; i++) {
            if (!sc->exc[i]) continue;
            fl_buf_put_uvarint(out, seen ? i - prev - 1 : i);
            fl_buf_put_be64(out, dbits(vs[i]));
            prev = i;
            seen = 1;
        }
    }
    if (use_rans) {
        fl_buf_put_uvarint(out, rans_len);
        fl_buf_put(out, rp, rans_len);
    }
    bstream_w raw;
    bstream_append_zeroed(out, raw_len, &raw);
    for (size_t i = 0; i < n; i++) {
        if (irregular && i >= 1) {
            unsigned s = bitlen64(sc->tz[i]);
            if (s > 1) bstream_write(&raw, sc->tz[i], s - 1);
        }
        if (i >= md.order) {
            unsigned s = bitlen64(sc->vz[i]);
            if (s > 1) bstream_write(&raw, sc->vz[i], s - 1);
        }
    }
    return 0;
}

static int dense_encode(const int64_t *ts, const double *vs, size_t n, fl_buf *out) {
    if (n > CHUNK_MAX_SAMPLES)
        return flint_error(FLINT_ERANGE, "dense chunk: %zu samples, at most %u", n, CHUNK_MAX_SAMPLES);
    dense_scratch sc;
    sc.rans_cap = 4 * n + 20;
    size_t words = 7 * n;
    uint8_t *mem = fl_malloc(words * 8 + 2 * n + sc.rans_cap);
    if (!mem) return flint_error(FLINT_ENOMEM, "dense chunk: out of memory for %zu samples", n);
    sc.mraw = (int64_t *)mem;
    sc.m = sc.mraw + n;
    sc.mo = sc.m + n;
    sc.r = sc.mo + n;
    sc.tmp = sc.r + n;
    sc.tz = (uint64_t *)(sc.tmp + n);
    sc.vz = sc.tz + n;
    sc.dmin = (int8_t *)(sc.vz + n);
    sc.exc = (uint8_t *)sc.dmin + n;
    sc.rans = sc.exc + n;

    /* each value's smallest decimal exponent */
    unsigned hist[DENSE_MAX_DEXP + 1] = {0};
    int guess = 0, dmax = -1;
    for (size_t i = 0; i < n; i++) {
        int d = dense_min_dexp(vs[i], guess, &sc.mraw[i]);
        sc.dmin[i] = (int8_t)d;
        if (d < 0) continue;
        hist[d]++;
        guess = d;
        dmax = d > dmax ? d : dmax;
    }
    int rc;
    if (dmax < 0) {
        rc = flint_error(FLINT_ERANGE, "dense chunk: no decimal values");
        goto done;
    }
    /* A few values with many more decimals than the rest would spoil the
     * gcd of all others; try them as exceptions too and keep the shorter. */
    unsigned dlow = (unsigned)dmax;
    size_t above = 0;
    while (dlow > 0 && above + hist[dlow] <= n / 64) above += hist[dlow--];
    size_t old_len = out->len;
    rc = dense_encode_at(ts, vs, n, (unsigned)dmax, &sc, out);
    if (rc == 0 && dlow < (unsigned)dmax) {
        size_t first_len = out->len - old_len;
        int rc2 = dense_encode_at(ts, vs, n, dlow, &sc, out);
        if (rc2 == FLINT_ENOMEM) {
            out->len = old_len;
            rc = rc2;
        } else if (rc2 == 0 && out->len - old_len - first_len < first_len) {
            memmove(out->data + old_len, out->data + old_len + first_len, out->len - old_len - first_len);
            out->len -= first_len;
        } else {
            out->len = old_len + first_len;
        }
    }
done:
    fl_free(mem);
    return rc;
}

/* =========================================================================
 * Decoder
 * ========================================================================= */

static bool dense_corrupt(chunk_iter *it, const char *what) {
    it->err = flint_error(FLINT_ECORRUPT, "dense chunk: %s", what);
    return false;
}

/* Header prefix shared by num_samples and init. */
static const uint8_t *dense_get_count(const uint8_t *p, const uint8_t *end, uint64_t *n) {
    if (end - p < 2 || (p[0] & DENSE_F_RESERVED) || (p[0] & DENSE_F_ORDER) == 3 || p[1] > DENSE_MAX_DEXP)
        return NULL;
    p = uvarint_get(p + 2, end, n);
    if (!p || *n == 0 || *n > CHUNK_MAX_SAMPLES) return NULL;
    return p;
}

bool dense_values_finite(const uint8_t *data, size_t len) {
    uint64_t n;
    return dense_get_count(data, data + len, &n) && !(data[0] & DENSE_F_EXCEPTIONS);
}

static int dense_num_samples(const uint8_t *data, size_t len) {
    uint64_t n;
    if (!dense_get_count(data, data + len, &n))
        return flint_error(FLINT_ECORRUPT, "dense chunk: malformed header");
    return (int)n;
}

/* rANS decoding table entry for one slot: the symbol's frequency, the
 * slot's offset inside the symbol's range, and the symbol s as the two
 * figures reading its raw bits takes (s - 1 bits, and a shift of 63 - s),
 * so a symbol costs one table load (docs/format/chunks.md, "rANS"). */
#define DENSE_ENTRY(freq, offset, sym)                                                                    \
    ((uint32_t)(freq) | (uint32_t)(offset) << 9 | (uint32_t)((sym) ? (sym) - 1 : 0) << 17 |               \
     (uint32_t)((sym) <= 63 ? 63 - (sym) : 0) << 23)
#define DENSE_ENTRY_FREQ(e) ((e) & 0x1ffu)           /* 1..256 */
#define DENSE_ENTRY_OFFSET(e) (((e) >> 9) & 0xffu)   /* slot - cum, < freq */
#define DENSE_ENTRY_NB(e) (((e) >> 17) & 0x3fu)      /* raw bits: s - 1, 0 for s = 0 */
#define DENSE_ENTRY_SH(e) ((e) >> 23)                /* 63 - s (s <= 63) */
#define DENSE_ENTRY_SYM(e) (DENSE_ENTRY_NB(e) + (DENSE_ENTRY_NB(e) != 0 || DENSE_ENTRY_SH(e) != 63))

/* Parse a table at byte *off into tab (2^tlog entries); false if malformed. */
static bool dense_get_table(const uint8_t *data, size_t len, size_t *off, unsigned tlog_max, uint8_t *tlog_out,
                            uint8_t *nbmax_out, uint32_t *tab) {
    bstream_r r;
    bstream_r_init(&r, data, len, (uint64_t)*off * 8);
    if (bstream_read_bit(&r) == 0) {
        unsigned s = (unsigned)bstream_read56(&r, 7);
        if (bstream_overrun(&r) || s >= DENSE_NSYM) return false;
        *tlog_out = 0;
        *nbmax_out = (uint8_t)(s ? s - 1 : 0);
        tab[0] = DENSE_ENTRY(1, 0, s);
        *off += 1;
        return true;
    }
    unsigned s0 = (unsigned)bstream_read56(&r, 7);
    unsigned nsym = (unsigned)bstream_read56(&r, 6) + 2;
    unsigned tlog = (unsigned)bstream_read56(&r, 4);
    if (bstream_overrun(&r) || s0 + nsym > DENSE_NSYM || tlog == 0 || tlog > tlog_max) return false;
    uint32_t M = UINT32_C(1) << tlog, c = 0;
    for (unsigned s = s0; s < s0 + nsym; s++) {
        uint32_t f;
        if (s + 1 < s0 + nsym) {
            /* Elias gamma: count the zeros up to the first one at once
             * (past the end reads as zeros: too many) */
            uint64_t w = bstream_load64(r.data, r.len, r.pos >> 3) << (r.pos & 7);
            unsigned zeros = w ? (unsigned)__builtin_clzll(w) : 64;
            if (zeros > tlog + 1) return false;
            r.pos += zeros + 1;
            if (bstream_overrun(&r)) return false;
            uint64_t x = (UINT64_C(1) << zeros) | bstream_read56(&r, zeros);
            if (bstream_overrun(&r) || x - 1 > M - c) return false;
            f = (uint32_t)(x - 1);
        } else {
            if (c >= M) return false;
            f = M - c;
        }
        for (uint32_t j = 0; j < f; j++) tab[c + j] = DENSE_ENTRY(f, j, s);
        c += f;
    }
    *tlog_out = (uint8_t)tlog;
    *nbmax_out = (uint8_t)(s0 + nsym - 2); /* the last symbol is >= 1 */
    *off = (size_t)((r.pos + 7) / 8);
    return true;
}

static void dense_iter_init(chunk_iter *it) {
    struct chunk_dense_state *d = &it->u.d;
    const uint8_t *data = it->data, *end = data + it->len, *p;
    uint64_t n, u;
    if (!(p = dense_get_count(data, end, &n))) {
        dense_corrupt(it, "malformed header");
        return;
    }
    d->flags = data[0];
    d->order = data[0] & DENSE_F_ORDER;
    d->scale = dense_p10[data[1]];
    int64_t t0;
    if (!(p = varint_get(p, end, &t0))) goto bad;
    d->t_last = t0;
    d->tdelta = 0;
    if (n > 1 && (!(p = uvarint_get(p, end, &d->tdelta)) || d->tdelta == 0)) goto bad;
    size_t off = (size_t)(p - data);
    d->tlog_t = 0;
    d->nbmax_t = 0;
    d->tab_t[0] = DENSE_ENTRY(1, 0, 0);
    if ((d->flags & DENSE_F_IRREGULAR) &&
        (n < 3 || !dense_get_table(data, it->len, &off, CHUNK_DENSE_TLOG_T, &d->tlog_t, &d->nbmax_t, d->tab_t)))
        goto bad;
    if (!dense_get_table(data, it->len, &off, CHUNK_DENSE_TLOG_V, &d->tlog_v, &d->nbmax_v, d->tab_v)) goto bad;
    p = data + off;
    d->gcd = 1;
    if (!(d->tlog_v == 0 && DENSE_ENTRY_SYM(d->tab_v[0]) == 0)) {
        if (!(p = uvarint_get(p, end, &u))) goto bad;
        d->gcd = u + 1;
    }
    int64_t sv;
    if (!(p = varint_get(p, end, &sv))) goto bad;
    d->bias = (uint64_t)sv;
    d->m = d->dm = 0;
    if (d->order >= 1) {
        if (!(p = varint_get(p, end, &sv))) goto bad;
        d->m = (uint64_t)sv;
    }
    if (d->order == 2) {
        if (!(p = varint_get(p, end, &sv))) goto bad;
        d->dm = (uint64_t)sv;
    }
    d->exc_left = 0;
    d->exc_idx = UINT32_MAX;
    if (d->flags & DENSE_F_EXCEPTIONS) {
        uint64_t count, gap, idx = 0;
        if (!(p = uvarint_get(p, end, &count)) || count == 0 || count > n) goto bad;
        d->exc_left = (uint32_t)count;
        for (uint64_t e = 0; e < count; e++) {
            if (!(p = uvarint_get(p, end, &gap)) || gap >= n) goto bad;
            idx = e ? idx + gap + 1 : gap;
            if (idx >= n || end - p < 8) goto bad;
            if (e == 0) {
                d->exc_idx = (uint32_t)idx;
                d->exc_pos = (uint64_t)(p - data);
            }
            p += 8;
        }
    }
    d->rans = d->rans2 = RANS_L;
    d->rans_pos = d->rans_end = (uint64_t)(p - data);
    if (d->flags & DENSE_F_RANS) {
        unsigned nst = d->flags & DENSE_F_LANES ? 2 : 1;
        if (!(p = uvarint_get(p, end, &u)) || u < 4 * nst || u > (uint64_t)(end - p)) goto bad;
        for (unsigned l = 0; l < nst; l++) {
            const uint8_t *q = p + 4 * l;
            uint32_t x = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
            if (x < RANS_L || x >= RANS_L << 8) goto bad;
            *(l ? &d->rans2 : &d->rans) = x;
        }
        d->rans_pos = (uint64_t)(p + 4 * nst - data);
        d->rans_end = (uint64_t)(p + u - data);
        p += u;
    } else if (d->tlog_t || d->tlog_v || (d->flags & DENSE_F_LANES)) {
        goto bad;
    }
    d->raw_pos = (uint64_t)(p - data) * 8;
    d->raw_end = (uint64_t)it->len * 8;
    it->u.total = (uint32_t)n;
    it->remaining = (uint32_t)n;
    return;
bad:
    dense_corrupt(it, "malformed header");
}

/* ---- the batch decoder ------------------------------------------------------ */

/* Working copy of the decoder state, kept in locals by the loops. */
typedef struct dense_dec {
    const uint8_t *data;
    size_t len;
    uint32_t x, x2; /* rANS states: the next symbol's, the other lane's */
    bool lanes;     /* two states, taking turns symbol by symbol */
    const uint8_t *rp, *re;
    uint64_t raw_pos;
    int64_t t;
    uint64_t m, dm, tdelta, gcd, bias;
    double scale;
    bool bad;
    unsigned tlog_t, tlog_v;
    unsigned nbmax; /* most raw bits one sample carries (time + value) */
    const uint32_t *tab_t, *tab_v;
} dense_dec;

/* The state after a symbol: with two lanes the other state decodes the
 * next symbol, and this one waits its turn. */
static inline __attribute__((always_inline)) void dense_store_state(uint32_t *xp, uint32_t *x2p, bool lanes,
                                                                    uint32_t x) {
    if (lanes) {
        *xp = *x2p;
        *x2p = x;
    } else {
        *xp = x;
    }
}

static inline __attribute__((always_inline)) unsigned dense_sym(uint32_t *xp, uint32_t *x2p, bool lanes,
                                                                const uint8_t **rpp, const uint8_t *re,
                                                                bool *bad, const uint32_t *tab,
                                                                unsigned tlog) {
    static const uint8_t ff = 0xff; /* past the stream: keep x growing; the chunk is corrupt */
    uint32_t x = *xp;
    uint32_t e = tab[x & ((UINT32_C(1) << tlog) - 1)];
    x = DENSE_ENTRY_FREQ(e) * (x >> tlog) + DENSE_ENTRY_OFFSET(e);
    /* x >= RANS_L before, freq >= 1 and tlog <= 8 leave x >= RANS_L >> 8:
     * at most one byte to read, done without a data-dependent branch */
    bool need = x < RANS_L, have = *rpp < re;
    const uint8_t *src = have ? *rpp : &ff;
    uint32_t b = *src;
    x = need ? x << 8 | b : x;
    *rpp += need & have;
    *bad |= need & !have;
    dense_store_state(xp, x2p, lanes, x);
    return DENSE_ENTRY_SYM(e);
}

/* The residual with bit length s: a leading one and s-1 raw bits.
 * Branch-free in s, which is data: s = 0 reads no bits and gives 0. */
static inline __attribute__((always_inline)) uint64_t dense_z(const uint8_t *data, size_t len, uint64_t *pos,
                                                              unsigned s) {
    unsigned nonzero = s != 0, nb = s - nonzero;
    uint64_t raw;
    if (__builtin_expect(nb <= 56, 1)) {
        uint64_t w = bstream_load64(data, len, *pos >> 3) << (*pos & 7);
        raw = (w >> 1) >> (63 - nb);
        *pos += nb;
    } else {
        bstream_r r = {data, len, *pos, 0};
        raw = bstream_read(&r, nb);
        *pos = r.pos;
    }
    return (uint64_t)nonzero << nb | raw;
}

/* dense_sym and dense_z without bounds checks, for a run of samples that
 * dense_unchecked has shown to stay inside the rANS stream and to leave
 * eight readable bytes at every raw-bit load. */
static inline __attribute__((always_inline)) uint32_t dense_sym_in(uint32_t *xp, uint32_t *x2p, bool lanes,
                                                                   const uint8_t **rpp, const uint32_t *tab,
                                                                   unsigned tlog) {
    uint32_t x = *xp;
    uint32_t e = tab[x & ((UINT32_C(1) << tlog) - 1)];
    x = DENSE_ENTRY_FREQ(e) * (x >> tlog) + DENSE_ENTRY_OFFSET(e);
    /* arithmetic, not a select: the compiler turns `need ? ... : x` into
     * a branch, which data makes unpredictable */
    uint32_t need = x < RANS_L;
#if defined(__x86_64__) && defined(__GNUC__)
    uint32_t nx = x << 8 | **rpp;
    __asm__("cmpl %[l], %[x]\n\tcmovb %[nx], %[x]" : [x] "+r"(x) : [nx] "r"(nx), [l] "i"(RANS_L) : "cc");
#else
    x = x << (need << 3) | (**rpp & (0u - need));
#endif
    *rpp += need;
    dense_store_state(xp, x2p, lanes, x);
    return e;
}

static inline __attribute__((always_inline)) uint64_t dense_z_in(const uint8_t *data, uint64_t *pos, uint32_t e) {
    uint64_t w;
    memcpy(&w, data + (*pos >> 3), 8);
    w = __builtin_bswap64(w) << (*pos & 7);
    /* a one, then the raw bits: z is the top s bits of it (none for s = 0) */
    uint64_t lead = (w >> 2) | UINT64_C(1) << 62;
    *pos += DENSE_ENTRY_NB(e);
    return lead >> DENSE_ENTRY_SH(e);
}

/* How many of the next `want` samples can be decoded unchecked: each reads
 * at most one stream byte per symbol and nbmax raw bits (<= 56 per symbol,
 * else none), and a raw-bit load reads 8 bytes from byte pos / 8. */
static inline uint32_t dense_unchecked(const dense_dec *c, const uint8_t *rp, uint64_t pos, uint32_t want,
                                       bool irregular) {
    if (c->nbmax == UINT_MAX || c->len < 8) return 0;
    uint64_t syms = (uint64_t)(c->re - rp) >> irregular;
    uint64_t last = (uint64_t)(c->len - 8) * 8; /* largest bit position a load may start at */
    if (pos > last) return 0;
    uint64_t bits = c->nbmax ? (last - pos) / c->nbmax : want;
    uint64_t n = syms < bits ? syms : bits;
    return n < want ? (uint32_t)n : want;
}

/* The entropy pass of dense_run for b samples: residuals into zt, zv. */
static inline __attribute__((always_inline)) void dense_entropy(dense_dec *c, uint64_t *zt, uint64_t *zv,
                                                                uint32_t b, const bool irregular,
                                                                const bool lanes) {
    uint32_t x = c->x, x2 = c->x2;
    const uint8_t *rp = c->rp, *re = c->re, *data = c->data;
    size_t len = c->len;
    uint64_t pos = c->raw_pos;
    bool bad = c->bad;
    const uint32_t *tab_v = c->tab_v, *tab_t = c->tab_t;
    unsigned tlog_v = c->tlog_v, tlog_t = c->tlog_t;
    uint32_t k = 0;
    for (uint32_t safe; (safe = dense_unchecked(c, rp, pos, b - k, irregular)) >= 8;) {
        for (uint32_t end = k + safe; k < end; k++) {
            if (irregular) zt[k] = dense_z_in(data, &pos, dense_sym_in(&x, &x2, lanes, &rp, tab_t, tlog_t));
            zv[k] = dense_z_in(data, &pos, dense_sym_in(&x, &x2, lanes, &rp, tab_v, tlog_v));
        }
    }
    for (; k < b; k++) {
        if (irregular) zt[k] = dense_z(data, len, &pos, dense_sym(&x, &x2, lanes, &rp, re, &bad, tab_t, tlog_t));
        zv[k] = dense_z(data, len, &pos, dense_sym(&x, &x2, lanes, &rp, re, &bad, tab_v, tlog_v));
    }
    c->x = x;
    c->x2 = x2;
    c->rp = rp;
    c->raw_pos = pos;
    c->bad = bad;
}

/* Samples from index 2 on, in two passes per CHUNK_BATCH: the entropy
 * decoder's chains (rANS state, raw bit position) alone, then the
 * arithmetic, so neither loop runs out of registers. The first pass runs
 * without bounds checks for as long as dense_unchecked allows (all but the
 * chunk's last few dozen samples), then checked. */
static inline __attribute__((always_inline)) void dense_run(dense_dec *state, int64_t *ts, double *vs,
                                                            uint32_t cnt, const unsigned order,
                                                            const bool irregular, const bool is_unsigned) {
    dense_dec c = *state;
    uint64_t zt[CHUNK_BATCH], zv[CHUNK_BATCH];
    for (uint32_t done = 0; done < cnt;) {
        uint32_t b = cnt - done < CHUNK_BATCH ? cnt - done : CHUNK_BATCH;
        if (c.lanes)
            dense_entropy(&c, zt, zv, b, irregular, true);
        else
            dense_entropy(&c, zt, zv, b, irregular, false);
        bool bad = c.bad;

        int64_t t = c.t;
        uint64_t m = c.m, dm = c.dm, tdelta = c.tdelta, gcd = c.gcd, bias = c.bias;
        double scale = c.scale; /* 1.0 when d = 0: dividing by it is exact */
        for (uint32_t k = 0; k < b; k++) {
            uint64_t delta = tdelta;
            if (irregular) delta += (uint64_t)zigzag_dec(zt[k]);
            int64_t nt = (int64_t)((uint64_t)t + delta);
            bad |= nt <= t;
            t = nt;
            uint64_t r = (is_unsigned ? zv[k] : (uint64_t)zigzag_dec(zv[k])) * gcd + bias;
            if (order == 0) {
                m = r;
            } else if (order == 1) {
                m += r;
            } else {
                dm += r;
                m += dm;
            }
            ts[done + k] = t;
            vs[done + k] = (double)(int64_t)m / scale;
        }
        c.t = t;
        c.m = m;
        c.dm = dm;
        c.bad = bad;
        done += b;
    }
    *state = c;
}

#define DENSE_RUN_CASE(o, irr, uns) \
    case (o) * 4 + (irr) * 2 + (uns): dense_run(c, ts, vs, cnt, o, irr, uns); break

static void dense_run_any(dense_dec *c, int64_t *ts, double *vs, uint32_t cnt, unsigned order,
                          bool irregular, bool is_unsigned) {
    switch (order * 4 + irregular * 2 + is_unsigned) {
    DENSE_RUN_CASE(0, 0, 0); DENSE_RUN_CASE(0, 0, 1); DENSE_RUN_CASE(0, 1, 0); DENSE_RUN_CASE(0, 1, 1);
    DENSE_RUN_CASE(1, 0, 0); DENSE_RUN_CASE(1, 0, 1); DENSE_RUN_CASE(1, 1, 0); DENSE_RUN_CASE(1, 1, 1);
    DENSE_RUN_CASE(2, 0, 0); DENSE_RUN_CASE(2, 0, 1); DENSE_RUN_CASE(2, 1, 0); DENSE_RUN_CASE(2, 1, 1);
    }
}

/* The first one or two samples come partly from the header. */
static void dense_head_sample(dense_dec *c, uint32_t i, unsigned order, bool irregular, bool is_unsigned,
                              int64_t *t_out, double *v_out) {
    if (i > 0) {
        uint64_t delta = c->tdelta;
        if (irregular) {
            unsigned s = dense_sym(&c->x, &c->x2, c->lanes, &c->rp, c->re, &c->bad, c->tab_t, c->tlog_t);
            delta += (uint64_t)zigzag_dec(dense_z(c->data, c->len, &c->raw_pos, s));
        }
        int64_t t = (int64_t)((uint64_t)c->t + delta);
        c->bad |= t <= c->t;
        c->t = t;
    }
    if (order == 0 || (order == 1 && i >= 1)) {
        unsigned s = dense_sym(&c->x, &c->x2, c->lanes, &c->rp, c->re, &c->bad, c->tab_v, c->tlog_v);
        uint64_t z = dense_z(c->data, c->len, &c->raw_pos, s);
        uint64_t r = (is_unsigned ? z : (uint64_t)zigzag_dec(z)) * c->gcd + c->bias;
        c->m = order == 0 ? r : c->m + r;
    } else if (order == 2 && i == 1) {
        c->m += c->dm;
    }
    *t_out = c->t;
    *v_out = (double)(int64_t)c->m / c->scale;
}

/* Decode the next cnt samples into ts/vs. False (it->err set) if the chunk
 * turns out to be corrupt. */
static bool dense_decode_batch(chunk_iter *it, int64_t *ts, double *vs, uint32_t cnt) {
    struct chunk_dense_state *d = &it->u.d;
    dense_dec c = {
        .data = it->data,
        .len = it->len,
        .x = d->rans,
        .x2 = d->rans2,
        .lanes = d->flags & DENSE_F_LANES,
        .rp = it->data + d->rans_pos,
        .re = it->data + d->rans_end,
        .raw_pos = d->raw_pos,
        .t = d->t_last,
        .m = d->m,
        .dm = d->dm,
        .tdelta = d->tdelta,
        .gcd = d->gcd,
        .bias = d->bias,
        .scale = d->scale,
        .tlog_t = d->tlog_t,
        .tlog_v = d->tlog_v,
        .tab_t = d->tab_t,
        .tab_v = d->tab_v,
        /* a symbol of more than 56 raw bits takes the checked path */
        .nbmax = d->nbmax_v > 56 || d->nbmax_t > 56
                     ? UINT_MAX
                     : (unsigned)d->nbmax_v + (d->flags & DENSE_F_IRREGULAR ? d->nbmax_t : 0),
    };
    unsigned order = d->order;
    bool irregular = d->flags & DENSE_F_IRREGULAR, is_unsigned = d->flags & DENSE_F_UNSIGNED;
    uint32_t first = it->u.next, k = 0;
    for (; k < cnt && first + k < 2; k++)
        dense_head_sample(&c, first + k, order, irregular, is_unsigned, &ts[k], &vs[k]);
    if (k < cnt) dense_run_any(&c, ts + k, vs + k, cnt - k, order, irregular, is_unsigned);
    it->u.next = first + cnt;
    if (it->u.next == it->u.total) {
        /* everything must have been used exactly */
        c.bad |= c.x != RANS_L || c.x2 != RANS_L || c.rp != c.re || c.raw_pos > d->raw_end || d->raw_end - c.raw_pos >= 8;
    }
    if (c.bad || c.raw_pos > d->raw_end) return dense_corrupt(it, "bad sample data");
    d->rans = c.x;
    d->rans2 = c.x2;
    d->rans_pos = (uint64_t)(c.rp - it->data);
    d->raw_pos = c.raw_pos;
    d->t_last = c.t;
    d->m = c.m;
    d->dm = c.dm;
    /* exceptions: raw values replacing the placeholders */
    while (d->exc_left && d->exc_idx < first + cnt) {
        const uint8_t *p = it->data + d->exc_pos, *end = it->data + it->len;
        vs[d->exc_idx - first] = bitsd(be64_get(p));
        p += 8;
        if (--d->exc_left) {
            uint64_t gap;
            if (!(p = uvarint_get(p, end, &gap))) return dense_corrupt(it, "bad exception list");
            d->exc_idx += (uint32_t)gap + 1;
            d->exc_pos = (uint64_t)(p - it->data);
        }
    }
    return true;
}

const chunk_ops dense_chunk_ops = {
    .name = "DENSE",
    .encode = dense_encode,
    .iter_init = dense_iter_init,
    .decode = dense_decode_batch,
    .num_samples = dense_num_samples,
};
