package org.ntk4j.infinite;

import org.ntk4j.ntk.KernelKind;
import org.ntk4j.predict.GpInference;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Lays out an infinite-width limit, which is diagonal in the logits (K ⊗ I_O, Θ ⊗ I_O), as the empirical kernel of a
 * {@link KernelKind} (the layouts of {@link InfiniteLimit#kernel}), writing each pair's value straight into the
 * result, and refuses a result that overflows its dtype.
 */
final class LimitLayout {
    /** Receives the kernels {K, Θ} of one pair of examples (i of x1, j of x2). */
    interface PairSink {
        void accept(int i, int j, double[] kt);
    }

    /** Gives every pair's {K, Θ} to a sink (each (i, j) once). */
    interface PairSource {
        void eachPair(PairSink sink);
    }

    /** Computes one pair's {K, Θ} into {@code kt}; each worker thread has its own (its scratch is its own). */
    interface PairWorker {
        void pair(int i, int j, double[] kt);
    }

    /** Pairs computed in parallel per block before the block is given to the sink, which runs on one thread. */
    static final int PAIRS_PER_BLOCK = 1 << 14;

    private LimitLayout() {
    }

    /**
     * Gives the sink {K, Θ} of every pair (i of n1, j of n2); with {@code symmetric} (x2 = x1, n2 = n1) each
     * unordered pair is computed once and given as (i, j) and (j, i). The pairs are computed over the cores, at
     * most {@code workers} at a time, each worker made once by {@code newWorker} and taking pairs from one counter,
     * in blocks of {@link #PAIRS_PER_BLOCK} whose results the calling thread then hands to the sink (which need not
     * be thread-safe): the memory beside the result is one block's, whatever the number of pairs.
     *
     * @param n1 examples of x1
     * @param n2 examples of x2 (n1 where symmetric)
     * @param symmetric whether x2 is x1
     * @param workers the most workers at once, at least 1 (fewer where their scratch must fit the heap)
     * @param newWorker makes one worker
     * @param sink receives every ordered pair once
     */
    static void eachPairInParallel(int n1, int n2, boolean symmetric, int workers,
                                   java.util.function.Supplier<PairWorker> newWorker, PairSink sink) {
        long total = symmetric ? (long) n1 * (n1 + 1) / 2 : (long) n1 * n2;
        int block = (int) Math.min(PAIRS_PER_BLOCK, Math.max(1, total));
        int[] rowOf = new int[block];
        int[] columnOf = new int[block];
        double[] k = new double[block];
        double[] t = new double[block];
        int slots = Math.max(1, Math.min(workers, org.ntk4j.cpu.Parallel.threads()));
        PairWorker[] made = new PairWorker[slots];
        int i = 0;
        int j = 0;
        while (i < n1) {
            // the next block of pairs, row by row (j from i where symmetric)
            int count = 0;
            while (count < block && i < n1) {
                rowOf[count] = i;
                columnOf[count++] = j;
                if (++j == n2) {
                    i++;
                    j = symmetric ? i : 0;
                }
            }
            int pairs = count;
            java.util.concurrent.atomic.AtomicInteger taken = new java.util.concurrent.atomic.AtomicInteger();
            org.ntk4j.cpu.Parallel.range(Math.min(slots, pairs), 1, (lo, hi) -> {
                PairWorker w = made[lo] != null ? made[lo] : (made[lo] = newWorker.get());
                double[] kt = new double[2];
                for (int p = taken.getAndIncrement(); p < pairs; p = taken.getAndIncrement()) {
                    w.pair(rowOf[p], columnOf[p], kt);
                    k[p] = kt[0];
                    t[p] = kt[1];
                }
            });
            double[] kt = new double[2];
            for (int p = 0; p < pairs; p++) {
                kt[0] = k[p];
                kt[1] = t[p];
                sink.accept(rowOf[p], columnOf[p], kt);
                if (symmetric && rowOf[p] != columnOf[p]) {
                    sink.accept(columnOf[p], rowOf[p], kt);
                }
            }
        }
    }

    /**
     * The pairs of examples a limit computes: n1 (n1 + 1)/2 for x2 = x1 (n2 = 0), else n1 n2.
     *
     * @param n1 examples of x1
     * @param n2 examples of x2, 0 for x2 = x1
     * @return the number of pairs
     */
    static double pairs(int n1, int n2) {
        return n2 == 0 ? n1 * (n1 + 1.0) / 2 : (double) n1 * n2;
    }

    /**
     * Σ a[i]·b[j] over the pairs {@link #pairs} counts: every (i, j), or with b null (x2 = x1) each unordered pair
     * of a once, ((Σ a)² + Σ a²)/2.
     */
    static double pairSum(double[] a, double[] b) {
        double sumA = 0;
        double squares = 0;
        for (double v : a) {
            sumA += v;
            squares += v * v;
        }
        if (b == null) {
            return (sumA * sumA + squares) / 2;
        }
        double sumB = 0;
        for (double v : b) {
            sumB += v;
        }
        return sumA * sumB;
    }

    /**
     * Refuses a null kind, kernel or x1, NaN or ±∞ in x1 or x2 and examples of x2 with another number of values
     * than x1's.
     */
    static void requireInputs(KernelKind kind, LimitKernel which, Tensor x1, Tensor x2) {
        if (kind == null) {
            throw new IllegalArgumentException("kind: must not be null");
        }
        if (which == null) {
            throw new IllegalArgumentException("which: expected LimitKernel.NNGP or LimitKernel.NTK, got null");
        }
        requireInputs(x1, x2);
    }

    /**
     * {@link InfiniteLimit#weightedExpectations} of a limit whose expectations all weigh 1 (closed forms): its
     * {@link InfiniteLimit#expectations} for these inputs' counts and shape, the inputs checked.
     */
    static double unweighted(InfiniteLimit limit, Tensor x1, Tensor x2) {
        requireInputs(x1, x2);
        return limit.expectations(x1.dim(0), x2 == null ? 0 : x2.dim(0), Shapes.dropFirst(x1.shape()));
    }

    /** {@link #requireInputs(KernelKind, LimitKernel, Tensor, Tensor)} without a kind or kernel. */
    static void requireInputs(Tensor x1, Tensor x2) {
        if (x1 == null) {
            throw new IllegalArgumentException("x1: must not be null");
        }
        requireExamples("x1", x1);
        org.ntk4j.cpu.Reduce.requireFinite("x1", x1);
        if (x2 != null) {
            requireExamples("x2", x2);
            org.ntk4j.cpu.Reduce.requireFinite("x2", x2);
            int d1 = Shapes.size(Shapes.dropFirst(x1.shape()));
            int d2 = Shapes.size(Shapes.dropFirst(x2.shape()));
            if (d1 != d2) {
                throw new IllegalArgumentException("shape mismatch: x2 examples " + Shapes.str(Shapes.dropFirst(
                        x2.shape())) + " have " + d2 + " features, x1 examples " + Shapes.str(Shapes.dropFirst(
                        x1.shape())) + " " + d1);
            }
        }
    }

    /**
     * Refuses x without an examples' axis, and examples without a value (an axis of size 0): the fcn's input kernel
     * x·x'/d was 0/0, NaN, reported as an overflow, and the image limits divided by 0 (ArithmeticException).
     */
    private static void requireExamples(String name, Tensor x) {
        int[] shape = x.shape();
        if (shape.length == 0) {
            throw new IllegalArgumentException(name + ": expected examples [N, ...] with a leading examples axis, got "
                    + "a scalar (shape [])");
        }
        int[] per = Shapes.dropFirst(shape);
        if (Shapes.size(per) == 0) {
            throw new IllegalArgumentException(name + ": examples of shape " + Shapes.str(per) + " have no values "
                    + "(an axis of size 0; x " + Shapes.str(shape) + "); every example needs at least one");
        }
    }

    /**
     * Both kernels of n1 × n2 pairs as [N1, N2] matrices (K and Θ of one logit) from one pass over the pairs: the
     * {@link InfiniteLimit#kernels} contract.
     *
     * @param n1 examples of x1
     * @param n2 examples of x2
     * @param dtype element type of the results
     * @param pairs the pairs' kernels
     * @return {@code Kernels(K, Θ)}, whose tensors the caller closes
     */
    static GpInference.Kernels layOutBoth(int n1, int n2, DType dtype, PairSource pairs) {
        Tensor k = Tensor.empty(dtype, n1, n2);
        Tensor t = null;
        try {
            t = Tensor.empty(dtype, n1, n2);
            Tensor theta = t;
            pairs.eachPair((i, j, kt) -> {
                k.set(kt[0], i, j);
                theta.set(kt[1], i, j);
            });
            requireFinite(k, LimitKernel.NNGP, dtype);
            requireFinite(t, LimitKernel.NTK, dtype);
            return new GpInference.Kernels(k, t);
        } catch (RuntimeException e) {
            k.close();
            if (t != null) {
                t.close();
            }
            throw e;
        }
    }

    /**
     * The kernel of {@code kind} for n1 × n2 pairs and {@code out} logits from the pairs' {K, Θ}.
     *
     * @param kind the layout
     * @param out number of logits O
     * @param n1 examples of x1
     * @param n2 examples of x2
     * @param which the kernel to lay out: K ({@link LimitKernel#NNGP}) or Θ ({@link LimitKernel#NTK})
     * @param dtype element type of the result
     * @param pairs the pairs' kernels
     * @return the kernel, which the caller closes
     */
    static Tensor layOut(KernelKind kind, int out, int n1, int n2, LimitKernel which, DType dtype,
                         PairSource pairs) {
        // the N×N kinds' factor on Θ; refuses projected:K and logit:K out of range before any work
        double scale = kind.isFull() || kind.isPerOutput() ? 1 : kind.scaleOfSharedKernel(out);
        int kernelIndex = which == LimitKernel.NNGP ? 0 : 1; // in {K, Θ}
        Tensor r = kind.isFull() ? Tensor.zeros(dtype, n1, n2, out, out)
                : kind.isPerOutput() ? Tensor.empty(dtype, n1, n2, out) : Tensor.empty(dtype, n1, n2);
        try {
            pairs.eachPair((i, j, kt) -> {
                double v = kt[kernelIndex];
                if (kind.isFull()) {
                    for (int o = 0; o < out; o++) {
                        r.set(v, i, j, o, o);
                    }
                } else if (kind.isPerOutput()) {
                    for (int o = 0; o < out; o++) {
                        r.set(v, i, j, o);
                    }
                } else {
                    r.set(scale * v, i, j);
                }
            });
            requireFinite(r, which, dtype);
            return r;
        } catch (RuntimeException e) {
            r.close();
            throw e;
        }
    }

    /** Refuses a kernel that overflowed its dtype, naming the first entry that did. */
    private static void requireFinite(Tensor r, LimitKernel which, DType dtype) {
        int bad = r.firstNonFinite();
        if (bad >= 0) {
            throw new org.ntk4j.ntk.NonFiniteKernelException("infinite-width limit: the " + which
                    + " holds " + r.getFlat(bad) + " (at flat index " + bad + " of " + Shapes.str(r.shape())
                    + "): it overflows " + dtype.shortName() + " at these inputs (it grows with |x|² and with σ_w² "
                    + "per layer, exponentially through act=exp); "
                    + (dtype == DType.F64 ? "" : "compute in float64, or ") + "scale the inputs");
        }
    }
}
