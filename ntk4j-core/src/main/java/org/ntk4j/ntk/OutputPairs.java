package org.ntk4j.ntk;

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

    /** Elements of {@link #blockShape}. */
    long blockSize(long n1, long n2, long o) {
        switch (this) {
            case TRACE:
                return n1 * n2;
            case DIAGONAL:
                return n1 * n2 * o;
            case PER_EXAMPLE:
                return n1 * o * o;
            case PER_EXAMPLE_TRACE:
                return n1;
            default:
                return n1 * o * n2 * o;
        }
    }

    /** Whether the block pairs each example with itself only (N1 = N2): the products are batched over the examples. */
    boolean perExample() {
        return this == PER_EXAMPLE || this == PER_EXAMPLE_TRACE;
    }
}
