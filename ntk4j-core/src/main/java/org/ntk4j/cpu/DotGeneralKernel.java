package org.ntk4j.cpu;

import java.util.Arrays;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * dot_general on the CPU as strided GEMMs, optionally writing its result in a permuted axis order.
 *
 * <p>Logical result layout (as XLA): batch axes (in the order given for the lhs), then the lhs free axes, then
 * the rhs free axes. With an output permutation {@code outPerm} the result is
 * {@code transpose(logical, outPerm)}, written directly: no intermediate in the logical order exists when the
 * permuted layout allows it.
 *
 * <p>The kernel plans one GEMM shape over the operands <em>as they lie in memory</em>: a group M of lhs free
 * axes, a group N of rhs free axes and the contracting group K must each flatten to one stride in every tensor
 * they occur in (consecutive in memory, the same order), and each of op(A) [M×K], op(B) [K×N] and C [M×N] must
 * have a unit stride on one side (cblas transA/transB pick which; C with a unit stride on M is computed as
 * Cᵀ = op(B)ᵀ·op(A)ᵀ). Every other axis — the batch axes, and free axes left out of M and N, such as the
 * stacked K axis of a tangent whose partner operand is shared — is a loop of GEMM calls on pointer offsets,
 * with stride 0 in the operand that lacks it. So a stacked operand against an unstacked one is a
 * broadcast-batch GEMM, and the weight cotangent [K, in, out] = xᵀ·ct[k] of a stacked VJP is written in the
 * parameter's own order with no transpose.
 *
 * <p>When no such plan exists, or one would split the work into many small GEMMs, an operand is first copied
 * into the canonical layout [batch, free, contracting] / [batch, contracting, free] (as XLA does) and/or the
 * result is formed in its logical order and then permuted. The choice among these is made by a small cost
 * estimate (GEMM calls, elements copied, elements each call touches), from the shapes alone, so that
 * {@link #scratchElements} reports exactly what {@link #dot} allocates.
 */
public final class DotGeneralKernel {
    /** Estimated fixed cost of one GEMM call, in nanoseconds (call overhead and small-matrix inefficiency). */
    private static final double CALL_NS = 1000;
    /** Estimated cost of copying one element with a strided copy, in nanoseconds. */
    private static final double COPY_NS = 2;
    /**
     * The same for a copy that moves runs of at least {@link #LONG_RUN} contiguous elements (bulk copies): measured
     * 0.15–0.20 ns an element of wall time on two cores (`Layout.transpose` of stacked cotangents [O, N, R, F] to
     * [N, R, O, F], F = 32 and 64, Zen 5), priced at 0.5 so that only a clear saving in GEMM calls takes it.
     * With 2 ns the planner kept ResNet-18's convolution rows as one 64×576×3136 GEMM per example and output (156
     * GFLOP/s); with 0.5 it copies the cotangent and runs one GEMM per example: the kernel (224×224, O = 8, N = 8,
     * SD) 1.85–2.00 → 1.80–1.88 s a call.
     */
    private static final double COPY_RUN_NS = 0.5;
    /** Contiguous elements from which a copy's runs count as long. */
    private static final int LONG_RUN = 16;
    /** Estimated cost per element a GEMM call reads or writes (memory traffic), in nanoseconds. */
    private static final double TOUCH_NS = 0.25;
    /** Free axes beyond which the planner tries only whole groups (2^n subsets otherwise). */
    private static final int MAX_SUBSET_AXES = 10;

    private DotGeneralKernel() {
    }

    /**
     * Computes dot_general(lhs, rhs) for already validated dimension numbers, in the logical layout
     * {@code [batch..., lhs free..., rhs free...]}. Nothing is checked here (the primitive checks the types).
     *
     * @param lhs the left operand; not closed
     * @param rhs the right operand, of {@code lhs}'s dtype; not closed
     * @param lhsContract the contracted axes of {@code lhs}
     * @param rhsContract the axes of {@code rhs} they pair with, of the same sizes
     * @param lhsBatch the batch axes of {@code lhs}
     * @param rhsBatch the axes of {@code rhs} they pair with, of the same sizes
     * @return a new tensor of {@code lhs}'s dtype, owned by the caller (zeros when a contracted axis has size 0)
     */
    public static Tensor dot(Tensor lhs, Tensor rhs, int[] lhsContract, int[] rhsContract, int[] lhsBatch,
                             int[] rhsBatch) {
        return dot(lhs, rhs, lhsContract, rhsContract, lhsBatch, rhsBatch, null);
    }

    /**
     * dot_general(lhs, rhs) transposed by {@code outPerm} (null or the identity: the logical layout), i.e.
     * result axis i is logical axis {@code outPerm[i]}. The dimension numbers must already be validated.
     *
     * @param lhs the left operand; not closed
     * @param rhs the right operand, of {@code lhs}'s dtype; not closed
     * @param lhsContract the contracted axes of {@code lhs}
     * @param rhsContract the axes of {@code rhs} they pair with, of the same sizes
     * @param lhsBatch the batch axes of {@code lhs}
     * @param rhsBatch the axes of {@code rhs} they pair with, of the same sizes
     * @param outPerm a permutation of the logical result axes, or null for the logical layout
     * @return a new tensor of {@code lhs}'s dtype in the permuted layout, owned by the caller
     */
    public static Tensor dot(Tensor lhs, Tensor rhs, int[] lhsContract, int[] rhsContract, int[] lhsBatch,
                             int[] rhsBatch, int[] outPerm) {
        Planned planned = planned(lhs.shape(), rhs.shape(), lhsContract, rhsContract, lhsBatch, rhsBatch, outPerm);
        return execute(planned.problem, planned.choice, lhs, rhs);
    }

    /**
     * Contractions of at least this many elements per Gram entry take {@link #gram}'s symmetric product: below it
     * mirroring the triangle costs about what the half of the multiply-adds saves. Measured, {@link Blas#gram}
     * against the GEMM of the same shape, two threads, Zen 4: 0.80× at k = 64 (m = 2048), 1.04–1.27× at k = 128,
     * 1.19–1.24× at k = 256, 1.45–1.64× at k ≥ 512 with m ≥ 1024 (OpenBLAS's SYRK alone, one thread: 1.5× from
     * m = 128, 1.9× at m = 1024).
     */
    private static final int GRAM_MIN_CONTRACTION = 256;

    /** Gram orders below this take the GEMM: on so few rows the symmetric product gains nothing measurable. */
    private static final int GRAM_MIN_ORDER = 64;

    /**
     * Whether {@link #gram} computes dot_general(x, x) of these dimension numbers as a symmetric product (else it
     * runs {@link #dot}): when x lies in memory as [batch, free, contracting] (each group in the order given, the
     * free axes ascending; axes of size 1 anywhere), so that each batch entry is one Gram of an m × k matrix read
     * in place, with k ≥ {@value #GRAM_MIN_CONTRACTION} and m ≥ {@value #GRAM_MIN_ORDER}.
     *
     * @param shape the operand's shape
     * @param contract the contracted axes
     * @param batch the batch axes
     * @return whether the Gram is computed as a symmetric product
     */
    public static boolean isSymmetricGram(int[] shape, int[] contract, int[] batch) {
        return new GramShape(shape, contract, batch).symmetric;
    }

    /**
     * FLOPs of {@link #gram} for these dimension numbers: 2 · batch · m² · k as a GEMM, batch · m(m+1) · k as a
     * symmetric product ({@link #isSymmetricGram}).
     *
     * @param shape the operand's shape
     * @param contract the contracted axes
     * @param batch the batch axes
     * @return the multiply-adds, times 2
     */
    public static double gramFlops(int[] shape, int[] contract, int[] batch) {
        GramShape g = new GramShape(shape, contract, batch);
        return g.symmetric ? (double) g.batch * g.m * (g.m + 1) * g.k : 2.0 * g.batch * g.m * g.m * g.k;
    }

    /**
     * dot_general(x, x) contracting {@code contract} with itself and batching {@code batch} with itself: the Gram
     * [batch..., free..., free...] (free axes ascending on both sides), exactly symmetric in its two groups of free
     * axes. Computed as a symmetric product ({@link Blas#gram}, about half the multiply-adds) when
     * {@link #isSymmetricGram}, else as {@link #dot}, with the same scratch as that.
     *
     * @param x the operand; not closed
     * @param contract the contracted axes
     * @param batch the batch axes
     * @return a new tensor of x's dtype, owned by the caller
     */
    public static Tensor gram(Tensor x, int[] contract, int[] batch) {
        return gram(x, contract, batch, 0);
    }

    /**
     * {@link #gram} for a caller that reads, of each Gram G (order m = the free axes' size, row-major), only the
     * upper triangle and the diagonal blocks of order {@code block}: G[i][j] is exact for j ≥ i and for i, j in one
     * block [b·block, (b+1)·block); the other elements are unspecified when the Gram is a symmetric product (it
     * then skips mirroring all but the diagonal blocks). Structured derivatives' kernel of a side with itself reads
     * its cotangent Gram so: the example blocks n1 ≤ n2, each [O·R] square whole.
     *
     * @param x the operand; not closed
     * @param contract the contracted axes
     * @param batch the batch axes
     * @param block the order of the diagonal blocks read whole (it divides m); 0 for the whole Gram
     * @return a new tensor of x's dtype, owned by the caller
     */
    public static Tensor gram(Tensor x, int[] contract, int[] batch, int block) {
        int[] shape = x.shape();
        GramShape g = new GramShape(shape, contract, batch);
        if (!g.symmetric) {
            return dot(x, x, contract, contract, batch, batch);
        }
        if (block < 0 || (block > 0 && g.m % block != 0)) {
            throw new IllegalArgumentException("gram: diagonal blocks of order " + block + " do not divide the order "
                    + g.m);
        }
        boolean whole = block == 0 || block >= g.m;
        int[] free = pick(shape, g.free);
        Tensor out = Tensor.empty(x.dtype(), Shapes.concat(pick(shape, batch), free, free));
        int b = (int) g.batch;
        int m = (int) g.m;
        int k = (int) g.k;
        if (Blas.loopParts((long) m * m * k * b, b) <= 1) {
            for (int i = 0; i < b; i++) {
                if (whole) {
                    Blas.gram(false, m, k, 1.0, x, (long) i * m * k, k, out, (long) i * m * m, m);
                } else {
                    Blas.gramUpper(false, m, k, 1.0, x, (long) i * m * k, k, out, (long) i * m * m, m);
                }
            }
        } else {
            // many small Grams (a diagonal batch axis): the Grams themselves in parallel, each on one thread
            Parallel.range(b, 1, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    Blas.gramUnsplit(false, m, k, 1.0, x, (long) i * m * k, k, out, (long) i * m * m, m, whole);
                }
            });
        }
        if (!whole && block > 1) { // (blocks of order 1 are their own mirrors)
            for (int i = 0; i < b; i++) {
                for (int d = 0; d < m; d += block) {
                    Blas.mirrorUpper(out, (long) i * m * m + (long) d * m + d, m, block);
                }
            }
        }
        return out;
    }

    /** A Gram's sizes (batch, order m, contraction k), its free axes, and whether it runs as a symmetric product. */
    private static final class GramShape {
        final long batch;
        final long m;
        final long k;
        final int[] free;
        final boolean symmetric;

        GramShape(int[] shape, int[] contract, int[] batch) {
            boolean[] used = new boolean[shape.length];
            long b = 1;
            for (int a : batch) {
                used[a] = true;
                b *= shape[a];
            }
            long kk = 1;
            for (int a : contract) {
                used[a] = true;
                kk *= shape[a];
            }
            free = new int[shape.length - contract.length - batch.length];
            long mm = 1;
            for (int a = 0, i = 0; a < shape.length; a++) {
                if (!used[a]) {
                    free[i++] = a;
                    mm *= shape[a];
                }
            }
            this.batch = b;
            this.m = mm;
            this.k = kk;
            this.symmetric = isIdentity(shape, Shapes.concat(batch, free, contract)) && kk >= GRAM_MIN_CONTRACTION
                    && mm >= GRAM_MIN_ORDER && kk <= Integer.MAX_VALUE && (double) mm * mm * b <= Integer.MAX_VALUE;
        }
    }

    /**
     * Elements of the scratch {@link #gram} allocates besides its result: none for a symmetric product (read in
     * place), else {@link #scratchElements} of the GEMM it runs.
     *
     * @param shape the operand's shape
     * @param contract the contracted axes
     * @param batch the batch axes
     * @return the scratch size, in elements of the operand's dtype
     */
    public static long gramScratchElements(int[] shape, int[] contract, int[] batch) {
        return isSymmetricGram(shape, contract, batch) ? 0
                : scratchElements(shape, shape, contract, contract, batch, batch);
    }

    /** A problem with its chosen plan: what {@link #PLANS} keeps per shapes and dimension numbers. */
    private record Planned(Problem problem, Choice choice) {
    }

    /**
     * Plans by shapes and dimension numbers: the same products recur in every call of a kernel, a tile or a
     * training step, and choosing among the preparations and GEMM groupings (up to 8 × 2^free axes candidate
     * plans) cost a sixth of a small kernel call. A plan depends on nothing else, so a cached one is the one that
     * would be chosen again. Cleared when it grows past {@link #PLAN_CACHE_LIMIT} entries (shapes seen once).
     */
    private static final java.util.concurrent.ConcurrentHashMap<PlanKey, Planned> PLANS =
            new java.util.concurrent.ConcurrentHashMap<>();
    private static final int PLAN_CACHE_LIMIT = 4096;

    /** The key of {@link #PLANS}: the arrays' contents, each preceded by its length (outPerm: -1 when null). */
    private static final class PlanKey {
        private final int[] v;
        private final int hash;

        PlanKey(int[]... parts) {
            int len = 0;
            for (int[] p : parts) {
                len += 1 + (p == null ? 0 : p.length);
            }
            v = new int[len];
            int i = 0;
            for (int[] p : parts) {
                if (p == null) {
                    v[i++] = -1;
                } else {
                    v[i++] = p.length;
                    System.arraycopy(p, 0, v, i, p.length);
                    i += p.length;
                }
            }
            hash = Arrays.hashCode(v);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof PlanKey k && k.hash == hash && Arrays.equals(k.v, v);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    /** Entries in the plan cache, for tests. */
    static int cachedPlans() {
        return PLANS.size();
    }

    private static Planned planned(int[] ls, int[] rs, int[] lhsContract, int[] rhsContract, int[] lhsBatch,
                                   int[] rhsBatch, int[] outPerm) {
        PlanKey key = new PlanKey(ls, rs, lhsContract, rhsContract, lhsBatch, rhsBatch, outPerm);
        Planned p = PLANS.get(key);
        if (p == null) {
            Problem pr = new Problem(ls.clone(), rs.clone(), lhsContract.clone(), rhsContract.clone(),
                    lhsBatch.clone(), rhsBatch.clone(), outPerm == null ? null : outPerm.clone());
            p = new Planned(pr, pr.contractSize == 0 || Shapes.size(ls) == 0 || Shapes.size(rs) == 0 ? null
                    : pr.choose());
            if (PLANS.size() >= PLAN_CACHE_LIMIT) {
                PLANS.clear();
            }
            PLANS.put(key, p);
        }
        return p;
    }

    /**
     * {@link #dot(Tensor, Tensor, int[], int[], int[], int[], int[])} in one given preparation (bit 0: copy the
     * lhs to its canonical layout, bit 1: the rhs, bit 2: form the logical result and permute it), or null when
     * that preparation has no GEMM plan. For tests, which check every preparation against the definition.
     */
    static Tensor dotPrepared(Tensor lhs, Tensor rhs, int[] lhsContract, int[] rhsContract, int[] lhsBatch,
                              int[] rhsBatch, int[] outPerm, int preparation) {
        Problem pr = new Problem(lhs.shape(), rhs.shape(), lhsContract, rhsContract, lhsBatch, rhsBatch, outPerm);
        if (Shapes.size(lhs.shape()) == 0 || Shapes.size(rhs.shape()) == 0) {
            return execute(pr, null, lhs, rhs);
        }
        Choice ch = pr.prepared(preparation);
        return ch == null ? null : execute(pr, ch, lhs, rhs);
    }

    private static Tensor execute(Problem pr, Choice given, Tensor lhs, Tensor rhs) {
        Tensor out = Tensor.empty(lhs.dtype(), Shapes.permute(pr.logicalShape, pr.outPerm));
        if (out.size() == 0) {
            return out;
        }
        if (pr.contractSize == 0) {
            for (int i = 0; i < out.size(); i++) {
                out.setFlat(i, 0);
            }
            return out;
        }
        Choice ch = given != null ? given : pr.choose();
        Tensor a = ch.copyLhs ? Layout.transpose(lhs, pr.canonicalLhsOrder()) : lhs;
        Tensor b = ch.copyRhs ? Layout.transpose(rhs, pr.canonicalRhsOrder()) : rhs;
        Tensor c = ch.viaLogical ? Tensor.empty(lhs.dtype(), pr.logicalShape) : out;
        try {
            run(ch.plan, a, b, c);
            if (ch.viaLogical) {
                int[] cs = Shapes.strides(pr.logicalShape);
                int[] sStrides = new int[cs.length];
                for (int i = 0; i < cs.length; i++) {
                    sStrides[i] = cs[pr.outPerm[i]];
                }
                Layout.stridedCopy(c, 0, sStrides, out, 0, Shapes.strides(out.shape()), out.shape());
            }
            return out;
        } finally {
            if (a != lhs) {
                a.close();
            }
            if (b != rhs) {
                b.close();
            }
            if (c != out) {
                c.close();
            }
        }
    }

    /**
     * Elements of the scratch {@link #dot} allocates for these shapes and dimension numbers besides its
     * result: operand copies into a GEMM layout and a logical-order result that is then permuted (0 when the
     * operands are read in place and the result written directly). For the memory model.
     *
     * @param ls the lhs shape
     * @param rs the rhs shape
     * @param lhsContract the contracted axes of the lhs
     * @param rhsContract the axes of the rhs they pair with
     * @param lhsBatch the batch axes of the lhs
     * @param rhsBatch the axes of the rhs they pair with
     * @param outPerm a permutation of the logical result axes, or null for the logical layout
     * @return the scratch size, in elements of the operands' dtype
     */
    public static long scratchElements(int[] ls, int[] rs, int[] lhsContract, int[] rhsContract, int[] lhsBatch,
                                       int[] rhsBatch, int[] outPerm) {
        Planned planned = planned(ls, rs, lhsContract, rhsContract, lhsBatch, rhsBatch, outPerm);
        Problem pr = planned.problem;
        Choice ch = planned.choice != null ? planned.choice : pr.choose();
        long r = 0;
        if (ch.copyLhs) {
            r += Shapes.size(ls);
        }
        if (ch.copyRhs) {
            r += Shapes.size(rs);
        }
        if (ch.viaLogical) {
            r += Shapes.size(pr.logicalShape);
        }
        return r;
    }

    /**
     * Elements of the transient transposed copy of a weight that this product's GEMM may make (for the memory model):
     * where its one GEMM is a float32 product with few rows whose second operand is a whole operand, uncopied, that
     * operand is read transposed ({@link Blas#readsTransposedWeight}) — from a copy kept with a parameter, or, when
     * none can be kept, from one made for the product. Counted whenever it may happen: whether the operand is a
     * parameter, and whether its copy can be kept, is not known before the run.
     *
     * @param ls the lhs shape
     * @param rs the rhs shape
     * @param lhsContract the contracted axes of the lhs
     * @param rhsContract the axes of the rhs they pair with
     * @param lhsBatch the batch axes of the lhs
     * @param rhsBatch the axes of the rhs they pair with
     * @param outPerm a permutation of the logical result axes, or null for the logical layout
     * @param dtype the operands' dtype
     * @return the copy's size in elements, or 0
     */
    public static long transposedOperandElements(int[] ls, int[] rs, int[] lhsContract, int[] rhsContract,
                                                 int[] lhsBatch, int[] rhsBatch, int[] outPerm, DType dtype) {
        Planned planned = planned(ls, rs, lhsContract, rhsContract, lhsBatch, rhsBatch, outPerm);
        if (planned.choice == null || planned.choice.plan.calls() != 1) {
            return 0;
        }
        Choice ch = planned.choice;
        Plan p = ch.plan;
        // runCalls: C = op(A)·op(B), or with swap Cᵀ = op(B)ᵀ·op(A)ᵀ, whose second operand is the lhs
        boolean copied = p.swap ? ch.copyLhs : ch.copyRhs;
        long size = Shapes.size(p.swap ? ls : rs);
        boolean reads = p.swap
                ? Blas.readsTransposedWeight(!p.transB, !p.transA, p.n, p.m, p.k, p.lda, size, dtype)
                : Blas.readsTransposedWeight(p.transA, p.transB, p.m, p.n, p.k, p.ldb, size, dtype);
        return reads && !copied ? size : 0;
    }

    /**
     * {@link #scratchElements(int[], int[], int[], int[], int[], int[], int[])} for the logical layout.
     *
     * @param ls the lhs shape
     * @param rs the rhs shape
     * @param lhsContract the contracted axes of the lhs
     * @param rhsContract the axes of the rhs they pair with
     * @param lhsBatch the batch axes of the lhs
     * @param rhsBatch the axes of the rhs they pair with
     * @return the scratch size, in elements of the operands' dtype
     */
    public static long scratchElements(int[] ls, int[] rs, int[] lhsContract, int[] rhsContract, int[] lhsBatch,
                                       int[] rhsBatch) {
        return scratchElements(ls, rs, lhsContract, rhsContract, lhsBatch, rhsBatch, null);
    }

    /** Number of GEMM calls {@link #dot} makes for these shapes (for tests of the planner). */
    static long gemmCalls(int[] ls, int[] rs, int[] lhsContract, int[] rhsContract, int[] lhsBatch,
                          int[] rhsBatch, int[] outPerm) {
        Problem pr = new Problem(ls, rs, lhsContract, rhsContract, lhsBatch, rhsBatch, outPerm);
        return pr.choose().plan.calls();
    }

    /**
     * True when reading axes in the order {@code perm} walks memory in row-major order, i.e. perm is the
     * identity once axes of size 1 (which move nothing) are ignored.
     *
     * @param shape the tensor's shape
     * @param perm axes of {@code shape} (a permutation, or a subsequence of one)
     * @return whether the non-trivial axes appear in increasing order
     */
    public static boolean isIdentity(int[] shape, int[] perm) {
        int last = -1;
        for (int p : perm) {
            if (shape[p] == 1) {
                continue;
            }
            if (p < last) {
                return false;
            }
            last = p;
        }
        return true;
    }

    // ------------------------------------------------------------------ execution

    private static void run(Plan p, Tensor a, Tensor b, Tensor c) {
        long calls = p.calls();
        int parts = Blas.loopParts((long) p.m * p.n * p.k * calls, calls);
        if (parts <= 1) {
            runCalls(p, a, b, c, 0, calls, false);
        } else {
            // a loop of GEMMs, each too small to split: the calls themselves run in parallel, one thread each
            Parallel.range((int) Math.min(Integer.MAX_VALUE, calls), 1,
                    (lo, hi) -> runCalls(p, a, b, c, lo, hi, true));
        }
    }

    /** The GEMM calls [from, to) of the plan's loop (the loop's last axis fastest). */
    private static void runCalls(Plan p, Tensor a, Tensor b, Tensor c, long from, long to, boolean unsplit) {
        int rank = p.loopDims.length;
        int[] idx = new int[rank];
        long oa = 0;
        long ob = 0;
        long oc = 0;
        long rest = from;
        for (int d = rank - 1; d >= 0; d--) {
            idx[d] = (int) (rest % p.loopDims[d]);
            rest /= p.loopDims[d];
            oa += (long) idx[d] * p.loopA[d];
            ob += (long) idx[d] * p.loopB[d];
            oc += (long) idx[d] * p.loopC[d];
        }
        for (long call = from; call < to; call++) {
            if (p.swap) {
                // Cᵀ [N×M] = op(B)ᵀ · op(A)ᵀ
                if (unsplit) {
                    Blas.gemmUnsplit(!p.transB, !p.transA, p.n, p.m, p.k, 1.0, b, ob, p.ldb, a, oa, p.lda, 0.0, c,
                            oc, p.ldc);
                } else {
                    Blas.gemm(!p.transB, !p.transA, p.n, p.m, p.k, 1.0, b, ob, p.ldb, a, oa, p.lda, 0.0, c, oc,
                            p.ldc);
                }
            } else if (unsplit) {
                Blas.gemmUnsplit(p.transA, p.transB, p.m, p.n, p.k, 1.0, a, oa, p.lda, b, ob, p.ldb, 0.0, c, oc,
                        p.ldc);
            } else {
                Blas.gemm(p.transA, p.transB, p.m, p.n, p.k, 1.0, a, oa, p.lda, b, ob, p.ldb, 0.0, c, oc, p.ldc);
            }
            for (int d = rank - 1; d >= 0; d--) {
                idx[d]++;
                oa += p.loopA[d];
                ob += p.loopB[d];
                oc += p.loopC[d];
                if (idx[d] < p.loopDims[d]) {
                    break;
                }
                oa -= (long) idx[d] * p.loopA[d];
                ob -= (long) idx[d] * p.loopB[d];
                oc -= (long) idx[d] * p.loopC[d];
                idx[d] = 0;
            }
        }
    }

    // ------------------------------------------------------------------ planning

    /** One way to run the product as GEMM calls: the GEMM shape and the loop over the remaining axes. */
    static final class Plan {
        int m;
        int n;
        int k;
        boolean transA;
        boolean transB;
        boolean swap;
        int lda;
        int ldb;
        int ldc;
        int[] loopDims = new int[0];
        long[] loopA = new long[0];
        long[] loopB = new long[0];
        long[] loopC = new long[0];

        long calls() {
            long r = 1;
            for (int d : loopDims) {
                r *= d;
            }
            return r;
        }

        double cost() {
            double touched = (double) m * k + (double) k * n + (double) m * n;
            return calls() * (CALL_NS + TOUCH_NS * touched);
        }
    }

    /** A plan and how the operands and result are prepared for it. */
    static final class Choice {
        final Plan plan;
        final boolean copyLhs;
        final boolean copyRhs;
        final boolean viaLogical;
        final double cost;

        Choice(Plan plan, boolean copyLhs, boolean copyRhs, boolean viaLogical, double cost) {
            this.plan = plan;
            this.copyLhs = copyLhs;
            this.copyRhs = copyRhs;
            this.viaLogical = viaLogical;
            this.cost = cost;
        }
    }

    /**
     * The axes of one product. Logical axes are numbered: batch (nb), lhs free (nlf), rhs free (nrf), then the
     * contracting pairs (nc, ordered by lhs axis). Each has a size and a stride in the tensors holding it.
     */
    static final class Problem {
        final int[] ls;
        final int[] rs;
        final int[] lb;
        final int[] rb;
        final int[] lc;
        final int[] rc;
        final int[] lf;
        final int[] rf;
        final int[] outPerm;
        final int[] logicalShape;
        final long contractSize;
        final int nb;
        final int nlf;
        final int nrf;
        final int nc;
        final int[] dims;

        Problem(int[] ls, int[] rs, int[] lhsContract, int[] rhsContract, int[] lhsBatch, int[] rhsBatch,
                int[] outPerm) {
            this.ls = ls;
            this.rs = rs;
            int[][] pairs = sortedPairs(lhsContract, rhsContract);
            this.lc = pairs[0];
            this.rc = pairs[1];
            this.lb = lhsBatch;
            this.rb = rhsBatch;
            this.lf = Shapes.complement(ls.length, Shapes.concat(lc, lb));
            this.rf = Shapes.complement(rs.length, Shapes.concat(rc, rb));
            this.logicalShape = Shapes.concat(pick(ls, lb), pick(ls, lf), pick(rs, rf));
            this.outPerm = outPerm == null ? Shapes.iota(logicalShape.length) : outPerm;
            this.nb = lb.length;
            this.nlf = lf.length;
            this.nrf = rf.length;
            this.nc = lc.length;
            this.dims = Shapes.concat(logicalShape, pick(ls, lc));
            long k = 1;
            for (int a : lc) {
                k *= ls[a];
            }
            this.contractSize = k;
        }

        int[] canonicalLhsOrder() {
            return Shapes.concat(lb, lf, lc);
        }

        int[] canonicalRhsOrder() {
            return Shapes.concat(rb, rc, rf);
        }

        /** Strides of the logical axes in the lhs (-1 where absent), as laid out or after the canonical copy. */
        long[] lhsStrides(boolean copied) {
            int[] order = copied ? canonicalLhsOrder() : Shapes.iota(ls.length);
            int[] s = Shapes.strides(Shapes.permute(ls, order));
            long[] byAxis = new long[ls.length];
            for (int i = 0; i < order.length; i++) {
                byAxis[order[i]] = s[i];
            }
            long[] r = absent();
            for (int i = 0; i < nb; i++) {
                r[i] = byAxis[lb[i]];
            }
            for (int i = 0; i < nlf; i++) {
                r[nb + i] = byAxis[lf[i]];
            }
            for (int i = 0; i < nc; i++) {
                r[nb + nlf + nrf + i] = byAxis[lc[i]];
            }
            return r;
        }

        long[] rhsStrides(boolean copied) {
            int[] order = copied ? canonicalRhsOrder() : Shapes.iota(rs.length);
            int[] s = Shapes.strides(Shapes.permute(rs, order));
            long[] byAxis = new long[rs.length];
            for (int i = 0; i < order.length; i++) {
                byAxis[order[i]] = s[i];
            }
            long[] r = absent();
            for (int i = 0; i < nb; i++) {
                r[i] = byAxis[rb[i]];
            }
            for (int i = 0; i < nrf; i++) {
                r[nb + nlf + i] = byAxis[rf[i]];
            }
            for (int i = 0; i < nc; i++) {
                r[nb + nlf + nrf + i] = byAxis[rc[i]];
            }
            return r;
        }

        /** Strides of the logical result axes in the result (permuted, or logical when formed that way). */
        long[] outStrides(boolean logical) {
            int[] perm = logical ? Shapes.iota(logicalShape.length) : outPerm;
            int[] s = Shapes.strides(Shapes.permute(logicalShape, perm));
            long[] r = absent();
            for (int i = 0; i < perm.length; i++) {
                r[perm[i]] = s[i];
            }
            return r;
        }

        private long[] absent() {
            long[] r = new long[dims.length];
            Arrays.fill(r, -1);
            return r;
        }

        /** The cheapest way among: operands as they are or copied, result direct or permuted afterwards. */
        Choice choose() {
            if (Shapes.size(ls) == 0 || Shapes.size(rs) == 0) { // nothing to multiply: no GEMM, no scratch
                Plan none = new Plan();
                none.loopDims = new int[] {0};
                none.loopA = new long[1];
                none.loopB = new long[1];
                none.loopC = new long[1];
                return new Choice(none, false, false, false, 0);
            }
            boolean identityOut = isIdentity(logicalShape, outPerm);
            boolean lhsCanonical = isIdentity(ls, canonicalLhsOrder());
            boolean rhsCanonical = isIdentity(rs, canonicalRhsOrder());
            Choice best = null;
            for (int variant = 0; variant < 8; variant++) {
                // copying what is already in place, or permuting an unpermuted result, only adds work
                if (((variant & 1) != 0 && lhsCanonical) || ((variant & 2) != 0 && rhsCanonical)
                        || ((variant & 4) != 0 && identityOut)) {
                    continue;
                }
                Choice c = prepared(variant);
                if (c != null && (best == null || c.cost < best.cost)) {
                    best = c;
                }
            }
            if (best == null) { // unreachable: both operands canonical and the result logical always plan
                throw new IllegalStateException("dot_general: no GEMM plan for lhs " + Shapes.str(ls) + ", rhs "
                        + Shapes.str(rs));
            }
            return best;
        }

        /** The best plan for one preparation (see {@link #dotPrepared}), or null when it has none. */
        Choice prepared(int variant) {
            boolean copyLhs = (variant & 1) != 0;
            boolean copyRhs = (variant & 2) != 0;
            boolean viaLogical = (variant & 4) != 0;
            Plan p = bestPlan(lhsStrides(copyLhs), rhsStrides(copyRhs), outStrides(viaLogical));
            if (p == null) {
                return null;
            }
            double copies = (copyLhs ? copyCost(ls, canonicalLhsOrder()) : 0)
                    + (copyRhs ? copyCost(rs, canonicalRhsOrder()) : 0)
                    + (viaLogical ? copyCost(logicalShape, outPerm) : 0);
            return new Choice(p, copyLhs, copyRhs, viaLogical, p.cost() + copies);
        }

        /**
         * Estimated nanoseconds of copying a tensor of {@code shape} into the axis order {@code order}: cheaper per
         * element when the axes kept innermost in place make runs of at least {@link #LONG_RUN} elements.
         */
        double copyCost(int[] shape, int[] order) {
            long run = 1;
            for (int i = order.length - 1; i >= 0 && order[i] == i; i--) {
                run *= shape[i];
            }
            return Shapes.size(shape) * (run >= LONG_RUN ? COPY_RUN_NS : COPY_NS);
        }

        /** The plan with the least estimated cost for these strides, or null when none exists. */
        Plan bestPlan(long[] sl, long[] sr, long[] so) {
            int[] kGroup = nonUnit(Shapes.range(nb + nlf + nrf, nb + nlf + nrf + nc));
            int[] kOrder = flattenOrder(kGroup, sl, sr);
            if (kOrder == null) {
                return null;
            }
            int[] lfAxes = nonUnit(Shapes.range(nb, nb + nlf));
            int[] rfAxes = nonUnit(Shapes.range(nb + nlf, nb + nlf + nrf));
            Plan best = null;
            for (int[] mGroup : subsets(lfAxes)) {
                int[] mOrder = flattenOrder(mGroup, sl, so);
                if (mOrder == null) {
                    continue;
                }
                for (int[] nGroup : subsets(rfAxes)) {
                    int[] nOrder = flattenOrder(nGroup, sr, so);
                    if (nOrder == null) {
                        continue;
                    }
                    Plan p = plan(mOrder, nOrder, kOrder, sl, sr, so);
                    if (p != null && (best == null || p.cost() < best.cost())) {
                        best = p;
                    }
                }
            }
            return best;
        }

        private Plan plan(int[] mg, int[] ng, int[] kg, long[] sl, long[] sr, long[] so) {
            Plan p = new Plan();
            p.m = size(mg);
            p.n = size(ng);
            p.k = size(kg);
            long smL = groupStride(mg, sl);
            long skL = groupStride(kg, sl);
            long skR = groupStride(kg, sr);
            long snR = groupStride(ng, sr);
            long smO = groupStride(mg, so);
            long snO = groupStride(ng, so);
            // op(A) = M×K from the lhs
            if (skL == 1 || kg.length == 0) {
                p.transA = false;
                p.lda = (int) (mg.length == 0 ? p.k : smL);
                if (p.lda < p.k) {
                    return null;
                }
            } else if (smL == 1 || mg.length == 0) {
                p.transA = true;
                p.lda = (int) (kg.length == 0 ? p.m : skL);
                if (p.lda < p.m) {
                    return null;
                }
            } else {
                return null;
            }
            // op(B) = K×N from the rhs
            if (snR == 1 || ng.length == 0) {
                p.transB = false;
                p.ldb = (int) (kg.length == 0 ? p.n : skR);
                if (p.ldb < p.n) {
                    return null;
                }
            } else if (skR == 1 || kg.length == 0) {
                p.transB = true;
                p.ldb = (int) (ng.length == 0 ? p.k : snR);
                if (p.ldb < p.k) {
                    return null;
                }
            } else {
                return null;
            }
            // C = M×N, or Cᵀ when M has the unit stride
            if (snO == 1 || ng.length == 0) {
                p.swap = false;
                p.ldc = (int) (mg.length == 0 ? p.n : smO);
                if (p.ldc < p.n) {
                    return null;
                }
            } else if (smO == 1 || mg.length == 0) {
                p.swap = true;
                p.ldc = (int) (ng.length == 0 ? p.m : snO);
                if (p.ldc < p.m) {
                    return null;
                }
            } else {
                return null;
            }
            int total = dims.length;
            boolean[] inGemm = new boolean[total];
            for (int[] g : new int[][] {mg, ng, kg}) {
                for (int a : g) {
                    inGemm[a] = true;
                }
            }
            int loops = 0;
            for (int a = 0; a < nb + nlf + nrf; a++) {
                if (!inGemm[a] && dims[a] != 1) {
                    loops++;
                }
            }
            p.loopDims = new int[loops];
            p.loopA = new long[loops];
            p.loopB = new long[loops];
            p.loopC = new long[loops];
            int i = 0;
            for (int a = 0; a < nb + nlf + nrf; a++) {
                if (!inGemm[a] && dims[a] != 1) {
                    p.loopDims[i] = dims[a];
                    p.loopA[i] = Math.max(0, sl[a]);
                    p.loopB[i] = Math.max(0, sr[a]);
                    p.loopC[i] = so[a];
                    i++;
                }
            }
            return p;
        }

        /**
         * The group's axes in decreasing stride of {@code primary}, when they flatten to one index in both
         * stride tables (each axis's stride is the next one's times its size); null otherwise.
         */
        private int[] flattenOrder(int[] group, long[] primary, long[] secondary) {
            Integer[] o = new Integer[group.length];
            for (int i = 0; i < o.length; i++) {
                o[i] = group[i];
            }
            Arrays.sort(o, (p, q) -> Long.compare(primary[q], primary[p]));
            int[] r = new int[o.length];
            for (int i = 0; i < r.length; i++) {
                r[i] = o[i];
            }
            for (long[] s : new long[][] {primary, secondary}) {
                for (int i = 0; i + 1 < r.length; i++) {
                    if (s[r[i]] != s[r[i + 1]] * dims[r[i + 1]]) {
                        return null;
                    }
                }
            }
            return r;
        }

        private long groupStride(int[] orderedGroup, long[] s) {
            return orderedGroup.length == 0 ? -1 : s[orderedGroup[orderedGroup.length - 1]];
        }

        private int size(int[] group) {
            long r = 1;
            for (int a : group) {
                r *= dims[a];
            }
            return Math.toIntExact(r);
        }

        private int[] nonUnit(int[] axes) {
            return Arrays.stream(axes).filter(a -> dims[a] != 1).toArray();
        }

        /** All subsets of {@code axes} (whole and empty only when there are many axes), largest first. */
        private static int[][] subsets(int[] axes) {
            if (axes.length > MAX_SUBSET_AXES) {
                return new int[][] {axes, new int[0]};
            }
            int count = 1 << axes.length;
            int[][] r = new int[count][];
            for (int mask = count - 1, j = 0; mask >= 0; mask--, j++) {
                int[] s = new int[Integer.bitCount(mask)];
                for (int i = 0, q = 0; i < axes.length; i++) {
                    if ((mask & (1 << i)) != 0) {
                        s[q++] = axes[i];
                    }
                }
                r[j] = s;
            }
            return r;
        }

    }

    /**
     * The contracting pairs ordered by lhs axis: a free choice (the sum is the same) that often matches the
     * lhs layout, so that no copy is needed.
     */
    private static int[][] sortedPairs(int[] lhsContract, int[] rhsContract) {
        int nc = lhsContract.length;
        Integer[] order = new Integer[nc];
        for (int i = 0; i < nc; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (p, q) -> Integer.compare(lhsContract[p], lhsContract[q]));
        int[] lc = new int[nc];
        int[] rc = new int[nc];
        for (int i = 0; i < nc; i++) {
            lc[i] = lhsContract[order[i]];
            rc[i] = rhsContract[order[i]];
        }
        return new int[][] {lc, rc};
    }

    private static int[] pick(int[] shape, int[] axes) {
        int[] r = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            r[i] = shape[axes[i]];
        }
        return r;
    }
}
