package org.ntk4j.ntk;

/**
 * What callers outside {@code ntk} (the CLI, the file formats, the prediction workflows) ask of a
 * {@link KernelKind}, answered in one place so that none of them switches on {@link KernelKind.Family}. Each
 * question is a candidate method of the kind itself once the kind becomes a type (issue 14).
 */
public final class KindTraits {
    private KindTraits() {
    }

    /**
     * Whether the kind is the full kernel Θ, [N1, N2, O, O] (read as an NO×NO matrix).
     *
     * @param kind the kind
     * @return true for {@code full}
     */
    public static boolean isFull(KernelKind kind) {
        return kind.family() == KernelKind.Family.FULL;
    }

    /**
     * Whether the kind keeps one N×N kernel per output, [N1, N2, O].
     *
     * @param kind the kind
     * @return true for {@code diagonal}
     */
    public static boolean isPerOutput(KernelKind kind) {
        return kind.family() == KernelKind.Family.DIAGONAL;
    }

    /**
     * Whether the kind is one N×N kernel, [N1, N2] (read as K ⊗ I_O against the full kernel).
     *
     * @param kind the kind
     * @return true for every kind but {@code full} and {@code diagonal}
     */
    public static boolean isSquare(KernelKind kind) {
        return !isFull(kind) && !isPerOutput(kind);
    }

    /**
     * Whether the kind is a plain axes kernel (a trace or diagonal over f's output axis, or neither), so that it
     * has an NNGP counterpart f(x1)·f(x2)ᵀ laid out alike.
     *
     * @param kind the kind
     * @return true for {@code full}, {@code trace} and {@code diagonal}
     */
    public static boolean isAxesKind(KernelKind kind) {
        KernelKind.Family f = kind.family();
        return f == KernelKind.Family.FULL || f == KernelKind.Family.TRACE || f == KernelKind.Family.DIAGONAL;
    }

    /**
     * Whether the kind is computed as the trace kernel of the model followed by a fixed projection of its outputs
     * ({@link KernelKind#wrapForCost}): the sum-of-logits, one-logit and probe kinds.
     *
     * @param kind the kind
     * @return true for {@code pntk}, {@code pntk-unscaled}, {@code logit:K} and {@code probes:R}
     */
    public static boolean wrapsModel(KernelKind kind) {
        return !isAxesKind(kind) && !isSketched(kind);
    }

    /**
     * Whether the kind sketches the parameters ({@code projected:K}): computed from Jacobian rows by Jacobian
     * contraction whatever the method, with no infinite-width counterpart.
     *
     * @param kind the kind
     * @return true for {@code projected:K}
     */
    public static boolean isSketched(KernelKind kind) {
        return kind.family() == KernelKind.Family.PROJECTED;
    }

    /**
     * Whether the kind's value depends on its seed (random probes or a random sketch).
     *
     * @param kind the kind
     * @return true for {@code probes:R} and {@code projected:K}
     */
    public static boolean isSeeded(KernelKind kind) {
        return hasProbes(kind) || isSketched(kind);
    }

    /**
     * Whether the kind projects the outputs on random probes ({@code probes:R}), whose R×O matrix the model's
     * wrapping holds.
     *
     * @param kind the kind
     * @return true for {@code probes:R}
     */
    public static boolean hasProbes(KernelKind kind) {
        return kind.family() == KernelKind.Family.PROBES;
    }

    /**
     * Bytes of the R×O probe matrix of {@code probes:R}, built in float64 three times over (the probes, the
     * layer's copy and its transpose): 3 · 8 · R · O.
     *
     * @param kind the kind
     * @param outputs O, the model's outputs per example
     * @return the bytes for {@code probes:R}, 0 for every other kind
     */
    public static long probeMatrixBytes(KernelKind kind, int outputs) {
        return hasProbes(kind) ? 3L * Double.BYTES * kind.argument() * outputs : 0;
    }

    /**
     * Entries of the kernel rows of one example against {@code n2} examples.
     *
     * @param kind the kind
     * @param n2 the examples of the other side
     * @param outputs O, the model's outputs per example
     * @return n2·O·O for {@code full}, n2·O for {@code diagonal}, n2 for the N×N kinds
     */
    public static long entriesPerRow(KernelKind kind, int n2, int outputs) {
        return isFull(kind) ? (long) n2 * outputs * outputs : isPerOutput(kind) ? (long) n2 * outputs : n2;
    }
}
