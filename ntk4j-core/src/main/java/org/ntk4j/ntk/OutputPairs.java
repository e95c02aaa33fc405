package org.ntk4j.ntk;

import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.tensor.Tensor;

/**
 * Which entries (n1, o1, n2, o2) of the full block a structured-derivatives block holds, for outputs [N, O]: all of
 * them, the full kernel [N1, O, N2, O]; their trace, Σ_o Θ[n1, n2, o, o] as [N1, N2] (divided by O at the end); the
 * per-output diagonal Θ[n1, n2, o, o] as [N1, N2, O] — the kind {@code diagonal}, which is not the full kernel
 * reduced: its cotangent Gram is one Gram per output, O times fewer products than the full kernel's O²; or each
 * example with itself, Θ[n, o1, n, o2] as [N, O, O] (N1 = N2), for a batch axis kept diagonal or traced
 * (neural-tangents' {@code diagonal_axes=(0,)}, {@code trace_axes=(0,)}): every product batched over the examples,
 * N times fewer than the full kernel's N², then reduced to the kernel's axes; or, with the outputs traced too, each
 * example's trace Σ_o Θ[n, o, n, o] as [N] (the per-example NTK trace, ‖J(x_n)‖²/O), whose cotangent Grams sum
 * over the outputs: O times fewer products again. Any other choice of kernel axes is the full kernel, reduced at
 * the end.
 */
enum OutputPairs {
    /** Every pair (o1, o2): [N1, O, N2, O]. */
    FULL,
    /** Σ_o (o, o): [N1, N2]. */
    TRACE,
    /** Each (o, o): [N1, N2, O]. */
    DIAGONAL,
    /** Each example with itself, every (o1, o2): [N, O, O]. */
    PER_EXAMPLE,
    /** Each example with itself, Σ_o (o, o): [N]. */
    PER_EXAMPLE_TRACE;

    /** The pairs a kernel with these axes needs from the blocks (outputs of rank {@code axes.rank()}). */
    static OutputPairs of(KernelAxes axes) {
        int r = axes.rank();
        if (!axes.examplesPaired()) {
            for (int a = 1; a < r; a++) {
                if (!axes.isTraced(a)) {
                    return PER_EXAMPLE;
                }
            }
            return PER_EXAMPLE_TRACE;
        }
        if (axes.diagonal().length == 0 && java.util.Arrays.equals(axes.trace(), KernelSupport.rangeFrom(1, r))) {
            return TRACE;
        }
        if (r == 2 && axes.trace().length == 0 && java.util.Arrays.equals(axes.diagonal(), new int[] {1})) {
            return DIAGONAL;
        }
        return FULL;
    }

    /** The block's shape for n1 × n2 examples and o outputs. */
    int[] blockShape(int n1, int n2, int o) {
        switch (this) {
            case TRACE:
                return new int[] {n1, n2};
            case DIAGONAL:
                return new int[] {n1, n2, o};
            case PER_EXAMPLE:
                return new int[] {n1, o, o};
            case PER_EXAMPLE_TRACE:
                return new int[] {n1};
            default:
                return new int[] {n1, o, n2, o};
        }
    }

    /** Elements of {@link #blockShape}, counted in long. */
    long blockSize(long n1, long n2, long o) {
        long size = 1;
        for (int d : blockShape((int) n1, (int) n2, (int) o)) {
            size *= d;
        }
        return size;
    }

    /** Whether the block pairs each example with itself only (N1 = N2): the products are batched over the examples. */
    boolean perExample() {
        return this == PER_EXAMPLE || this == PER_EXAMPLE_TRACE;
    }

    /**
     * How per-example rows contract into a block of these pairs: the axes contracted and batched (the same on
     * both sides) and the permutation writing the logical dot_general result in the block's layout (null: as it
     * comes), for rows laid out [O, N, P] ({@code outputsFirst}: an elementwise consumer's) or [N, O, P] (the dense
     * fallback's per-example Jacobians).
     */
    RowsProduct rowsProduct(boolean outputsFirst) {
        int o = outputsFirst ? 0 : 1;
        int n = outputsFirst ? 1 : 0;
        int[] p = {2};
        int[] traced = {o, 2};
        int[] none = new int[0];
        switch (this) {
            case TRACE: // [N1, N2]
                return new RowsProduct(traced, none, null);
            case DIAGONAL: // [O, N1, N2] written as [N1, N2, O]
                return new RowsProduct(p, new int[] {o}, StructuredDerivatives.DIAGONAL_FROM_ROWS);
            case PER_EXAMPLE: // [N, O, O]
                return new RowsProduct(p, new int[] {n}, null);
            case PER_EXAMPLE_TRACE: // [N]
                return new RowsProduct(traced, new int[] {n}, null);
            default: // [O, N1, O, N2] written as [N1, O, N2, O]; [N, O, P] rows give [N1, O, N2, O] as they come
                return new RowsProduct(p, none, outputsFirst ? new int[] {1, 0, 3, 2} : null);
        }
    }

    /** Outputs one entry of the block sums over: O for the traces, else 1 (the rows' contraction is O·P or P). */
    long summedOutputs(long o) {
        return this == TRACE || this == PER_EXAMPLE_TRACE ? o : 1;
    }

    /** The contraction of two sides' rows into a block ({@link #rowsProduct}). */
    record RowsProduct(int[] contract, int[] batch, int[] perm) {
        /** The block of rows {@code a} and {@code b}, its FLOPs counted. */
        Tensor dot(Tensor a, Tensor b) {
            return CountedDot.dot(a, b, contract, contract, batch, batch, perm);
        }

        /**
         * The block of rows {@code a} with themselves (x2 = x1: one tensor for both sides), its FLOPs counted: a
         * symmetric product where {@link #symmetric} (about half the multiply-adds, the upper triangle mirrored, as
         * Jacobian contraction's Gram of a parameter's rows), else {@link #dot}{@code (a, a)}.
         */
        Tensor gram(Tensor a) {
            return symmetric(a.shape()) ? CountedDot.gram(a, contract, batch) : dot(a, a);
        }

        /**
         * Whether {@link #gram} of rows shaped {@code a} is a symmetric product: the block as it comes (no
         * permutation) and {@link DotGeneralKernel#isSymmetricGram}.
         */
        boolean symmetric(int[] a) {
            return perm == null && DotGeneralKernel.isSymmetricGram(a, contract, batch);
        }

        /**
         * FLOPs of the block of rows shaped {@code a} and {@code b}: {@link #gram}'s for one tensor with itself
         * ({@code same}), else {@link #dot}'s, 2 · output size · contracted size.
         */
        double flops(int[] a, int[] b, boolean same) {
            if (same && symmetric(a)) {
                return DotGeneralKernel.gramFlops(a, contract, batch);
            }
            double out = 1;
            double k = 1;
            boolean[] used = new boolean[a.length];
            for (int ax : contract) {
                k *= a[ax];
                used[ax] = true;
            }
            for (int ax : batch) {
                out *= a[ax];
                used[ax] = true;
            }
            for (int i = 0; i < a.length; i++) {
                out *= used[i] ? 1 : (double) a[i] * b[i];
            }
            return 2 * out * k;
        }

        /** Elements of the operand copies the product of rows shaped {@code a} and {@code b} takes. */
        long scratch(int[] a, int[] b) {
            return DotGeneralKernel.scratchElements(a, b, contract, contract, batch, batch, perm);
        }
    }
}
