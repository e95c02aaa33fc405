package org.ntk4j.ntk;

import java.util.Locale;
import java.util.SplittableRandom;
import java.util.List;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.FixedProjection;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamScope;

/**
 * The kernels ntk4j computes, each at its own cost. With f(x) of shape [N, O] (Θ_km the O×O blocks):
 * <ul>
 *   <li>{@code full}: Θ, [N1, N2, O, O];</li>
 *   <li>{@code trace}: (1/O) Σ_k Θ_kk, [N1, N2] (neural-tangents' default: the trace is a mean);</li>
 *   <li>{@code diagonal}: Θ_kk for each k, [N1, N2, O];</li>
 *   <li>{@code pntk}: ∇θ[(1/√O) Σ_k f_k(x1)] · ∇θ[(1/√O) Σ_k f_k(x2)] = (1/O) Σ_{k,m} Θ_km — the sum of
 *       logits of Mohamadi, Bae &amp; Sutherland (2023), one cotangent per example;</li>
 *   <li>{@code pntk-unscaled}: Σ_{k,m} Θ_km = O·pntk (the plain sum of logits of TE-NAS and others);</li>
 *   <li>{@code logit:K}: Θ_KK, one logit (0-based), one cotangent per example;</li>
 *   <li>{@code probes:R}: (1/R) Σ_r s_rᵀ Θ s_r with s_r seeded random ±1/√O vectors: an unbiased estimate
 *       of {@code trace} (E[s sᵀ] = I/O), R cotangents per example;</li>
 *   <li>{@code projected:K}: (1/O) Σ_k (J_k(x1) Π)(J_k(x2) Π)ᵀ with Π a seeded CountSketch
 *       Johnson–Lindenstrauss projection of the P parameters to K dimensions (E[Π Πᵀ] = I): an unbiased
 *       estimate of {@code trace} whose variance falls like 1/K.</li>
 * </ul>
 * The N×N kinds are read as K ⊗ I_O when compared with the full kernel. On outputs with more axes, [N, ..., O],
 * {@code full}, {@code trace} and {@code diagonal} are neural-tangents' axes (trace_axes=(), (-1,), and
 * diagonal_axes=(-1,) with trace_axes=()): the inner axes stay paired, so {@code trace} of [N, T, O] outputs is
 * [N1, N2, T, T]; the other kinds need outputs [N, O] and refuse others.
 */
public final class KernelKind {
    /** The families of kinds. */
    public enum Family {
        /** Θ itself, [N1, N2, O, O]. */
        FULL,
        /** (1/O) Σ_k Θ_kk, [N1, N2]. */
        TRACE,
        /** Θ_kk for each logit k, [N1, N2, O]. */
        DIAGONAL,
        /** (1/O) Σ_{k,m} Θ_km: the scaled sum of logits, [N1, N2]. */
        PNTK,
        /** Σ_{k,m} Θ_km = O·pntk, [N1, N2]. */
        PNTK_UNSCALED,
        /** Θ_KK of one logit K, [N1, N2]. */
        LOGIT,
        /** R random ±1/√O probes: an unbiased estimate of trace, [N1, N2]. */
        PROBES,
        /** Sketched Jacobians of K columns: an unbiased estimate of trace, [N1, N2]. */
        PROJECTED
    }

    private final Family family;
    private final int arg;
    private final long seed;

    private KernelKind(Family family, int arg, long seed) {
        this.family = family;
        this.arg = arg;
        this.seed = seed;
    }

    /**
     * The full kernel Θ, [N1, N2, O, O].
     *
     * @return the kind {@code full}
     */
    public static KernelKind full() {
        return new KernelKind(Family.FULL, 0, 0);
    }

    /**
     * The trace kernel (1/O) Σ_k Θ_kk, [N1, N2].
     *
     * @return the kind {@code trace}
     */
    public static KernelKind trace() {
        return new KernelKind(Family.TRACE, 0, 0);
    }

    /**
     * The per-logit kernels Θ_kk, [N1, N2, O].
     *
     * @return the kind {@code diagonal}
     */
    public static KernelKind diagonal() {
        return new KernelKind(Family.DIAGONAL, 0, 0);
    }

    /**
     * The scaled sum of logits (1/O) Σ_{k,m} Θ_km, [N1, N2] (Mohamadi, Bae &amp; Sutherland's pNTK).
     *
     * @return the kind {@code pntk}
     */
    public static KernelKind pntk() {
        return new KernelKind(Family.PNTK, 0, 0);
    }

    /**
     * The plain sum of logits Σ_{k,m} Θ_km = O·pntk, [N1, N2].
     *
     * @return the kind {@code pntk-unscaled}
     */
    public static KernelKind pntkUnscaled() {
        return new KernelKind(Family.PNTK_UNSCALED, 0, 0);
    }

    /**
     * The kernel Θ_KK of one logit, [N1, N2].
     *
     * @param logit K, 0-based (checked against the model's O when the kernel is computed)
     * @return the kind {@code logit:K}
     * @throws IllegalArgumentException if {@code logit} is negative
     */
    public static KernelKind logit(int logit) {
        return checked(Family.LOGIT, logit, 0, "logit:" + logit);
    }

    /**
     * R seeded random ±1/√O probes: an unbiased estimate of {@code trace}, [N1, N2].
     *
     * @param probes R, the probes per example, at least 1
     * @param seed seed of the probes: the same seed gives the same probes
     * @return the kind {@code probes:R}
     * @throws IllegalArgumentException if {@code probes} is below 1
     */
    public static KernelKind probes(int probes, long seed) {
        return checked(Family.PROBES, probes, seed, "probes:" + probes);
    }

    /**
     * A seeded CountSketch projection of the parameters to K dimensions: an unbiased estimate of {@code trace},
     * [N1, N2].
     *
     * @param dimensions K, the sketch's dimensions, at least 1
     * @param seed seed of the projection: the same seed gives the same sketch
     * @return the kind {@code projected:K}
     * @throws IllegalArgumentException if {@code dimensions} is below 1
     */
    public static KernelKind projected(int dimensions, long seed) {
        return checked(Family.PROJECTED, dimensions, seed, "projected:" + dimensions);
    }

    /**
     * Parses a kind that takes no seed: {@code full}, {@code trace}, {@code diagonal}, {@code pntk},
     * {@code pntk-unscaled} or {@code logit:K}, as {@link #parse(String, long)} does.
     *
     * @param text the kind, case-insensitive, surrounding blanks ignored
     * @return the kind
     * @throws IllegalArgumentException as {@link #parse(String, long)}, and for the seeded kinds
     *     {@code probes:R} and {@code projected:K}, whose seed this method cannot know
     */
    public static KernelKind parse(String text) {
        KernelKind kind = parse(text, 0);
        if (kind.isSeeded()) {
            // a silent seed 0 would be a default the caller never chose
            throw new IllegalArgumentException("kind: '" + text.trim() + "' is random and needs a seed: use "
                    + "KernelKind.parse(text, seed) or KernelKind." + (kind.hasProbes() ? "probes" : "projected")
                    + "(" + kind.arg + ", seed)");
        }
        return kind;
    }

    /**
     * Parses {@code full}, {@code trace}, {@code diagonal}, {@code pntk}, {@code pntk-unscaled},
     * {@code logit:K}, {@code probes:R}, {@code projected:K}; {@code seed} seeds probes and projections.
     *
     * @param text the kind, case-insensitive, surrounding blanks ignored
     * @param seed seed of the probes or the projection; kept but unused by the other kinds
     * @return the kind
     * @throws IllegalArgumentException if the name is unknown, the argument is missing, not an integer or given
     *     to a kind that takes none, or is below 0 (logit) or 1 (probes, projected)
     */
    public static KernelKind parse(String text, long seed) {
        if (text == null) {
            throw new IllegalArgumentException("kind: must not be null");
        }
        String t = text.trim().toLowerCase(Locale.ROOT);
        int colon = t.indexOf(':');
        String name = colon < 0 ? t : t.substring(0, colon);
        Integer arg = null;
        if (colon >= 0) {
            boolean takesNone = java.util.List.of("full", "trace", "diagonal", "pntk", "pntk-unscaled").contains(name);
            try {
                arg = Integer.parseInt(t.substring(colon + 1));
            } catch (NumberFormatException e) {
                if (!takesNone && t.substring(colon + 1).matches("\\+?\\d+")) { // digits, beyond an int
                    throw new IllegalArgumentException("kind: '" + text + "': the argument is too large (at most "
                            + Integer.MAX_VALUE + ")");
                }
                throw new IllegalArgumentException("kind: '" + text + "' " + (takesNone ? "takes no ':' argument"
                        : "needs an integer after ':'"));
            }
        }
        Family f;
        switch (name) {
            case "full":
                f = Family.FULL;
                break;
            case "trace":
                f = Family.TRACE;
                break;
            case "diagonal":
                f = Family.DIAGONAL;
                break;
            case "pntk":
                f = Family.PNTK;
                break;
            case "pntk-unscaled":
                f = Family.PNTK_UNSCALED;
                break;
            case "logit":
                f = Family.LOGIT;
                break;
            case "probes":
                f = Family.PROBES;
                break;
            case "projected":
                f = Family.PROJECTED;
                break;
            default:
                throw new IllegalArgumentException("kind: expected full, trace, diagonal, pntk, pntk-unscaled, "
                        + "logit:K, probes:R or projected:K, got '" + text + "'");
        }
        boolean needsArg = f == Family.LOGIT || f == Family.PROBES || f == Family.PROJECTED;
        if (needsArg != (arg != null)) {
            throw new IllegalArgumentException("kind: '" + text + "' " + (needsArg ? "needs" : "takes no")
                    + " ':' argument");
        }
        return checked(f, arg == null ? 0 : arg, seed, text);
    }

    /** The kind of family {@code f} with argument {@code arg}, refused below 0 (logit) or 1 (probes, projected). */
    private static KernelKind checked(Family f, int arg, long seed, String text) {
        if (f == Family.LOGIT ? arg < 0 : (f == Family.PROBES || f == Family.PROJECTED) && arg < 1) {
            throw new IllegalArgumentException("kind: '" + text + "': the argument must be "
                    + (f == Family.LOGIT ? ">= 0" : ">= 1"));
        }
        return new KernelKind(f, arg, seed);
    }

    /**
     * The family of the kind.
     *
     * @return the family
     */
    public Family family() {
        return family;
    }

    /**
     * K of logit:K, R of probes:R, K of projected:K.
     *
     * @return the argument; 0 for the kinds that take none
     */
    public int argument() {
        return arg;
    }

    /**
     * The seed of the probes or the projection.
     *
     * @return the seed given to {@link #parse(String, long)}, {@link #probes} or {@link #projected}; 0 from the
     *     other factories and {@link #parse(String)}
     */
    public long seed() {
        return seed;
    }

    /** True for projected:K, computed from sketched Jacobian rows rather than as a plain kernel. */
    boolean sketched() {
        return family == Family.PROJECTED;
    }

    /**
     * Whether this is the full kernel Θ, [N1, N2, O, O] (read as an NO×NO matrix).
     *
     * @return true for {@code full}
     */
    public boolean isFull() {
        return family == Family.FULL;
    }

    /**
     * Whether this kind keeps one N×N kernel per output, [N1, N2, O].
     *
     * @return true for {@code diagonal}
     */
    public boolean isPerOutput() {
        return family == Family.DIAGONAL;
    }

    /**
     * Whether this kind is one N×N kernel, [N1, N2] (read as K ⊗ I_O against the full kernel) for outputs [N, O];
     * {@code trace} of outputs with more axes keeps the inner ones paired ([N1, N2, T, T] for [N, T, O]).
     *
     * @return true for every kind but {@code full} and {@code diagonal}
     */
    public boolean isSquare() {
        return !isFull() && !isPerOutput();
    }

    /**
     * Whether this is a plain axes kernel (a trace or diagonal over f's output axis, or neither), so that it has
     * an NNGP counterpart f(x1)·f(x2)ᵀ laid out alike.
     *
     * @return true for {@code full}, {@code trace} and {@code diagonal}
     */
    public boolean isAxesKind() {
        return family == Family.FULL || family == Family.TRACE || family == Family.DIAGONAL;
    }

    /**
     * Whether this kind is computed as the trace kernel of the model followed by a fixed projection of its outputs
     * ({@link #wrapForCost}): the sum-of-logits, one-logit and probe kinds.
     *
     * @return true for {@code pntk}, {@code pntk-unscaled}, {@code logit:K} and {@code probes:R}
     */
    public boolean wrapsModel() {
        return isProjectionOfLogits();
    }

    /**
     * Whether this kind sketches the parameters ({@code projected:K}): computed from Jacobian rows by Jacobian
     * contraction whatever the method, with no infinite-width counterpart.
     *
     * @return true for {@code projected:K}
     */
    public boolean isSketched() {
        return sketched();
    }

    /**
     * Whether this kind's value depends on its seed (random probes or a random sketch).
     *
     * @return true for {@code probes:R} and {@code projected:K}
     */
    public boolean isSeeded() {
        return hasProbes() || isSketched();
    }

    /**
     * Whether this kind projects the outputs on random probes ({@code probes:R}), whose R×O matrix the model's
     * wrapping holds.
     *
     * @return true for {@code probes:R}
     */
    public boolean hasProbes() {
        return family == Family.PROBES;
    }

    /**
     * Heap bytes of the R×O probe matrix of {@code probes:R}, built in float64 three times over: the probes and the
     * layer's copy, each R arrays of O values (an array's 16-byte header, its values rounded up to 8 bytes, and an
     * 8-byte reference to it), and its transpose, one array of R·O values: 2 · R · (⌈(16 + 8·O) / 8⌉ · 8 + 8) +
     * 8 · R · O. Before 2026-12-07 this was 3 · 8 · R · O, the values alone, which the arrays of few outputs exceed
     * (32 bytes a row of O = 2, not 16): {@code probes:100000000} of two outputs passed a budget of 4.7 GiB and ran
     * the JVM out of heap.
     *
     * @param outputs O, the model's outputs per example
     * @return the bytes for {@code probes:R}, 0 for every other kind
     */
    public long probeMatrixBytes(int outputs) {
        if (!hasProbes()) {
            return 0;
        }
        long row = (16L + (long) Double.BYTES * outputs + 7) / 8 * 8;
        return 2L * arg * (row + 8) + (long) Double.BYTES * arg * outputs;
    }

    /**
     * Entries of the kernel rows of one example against {@code n2} examples, for a model with outputs [N, O].
     *
     * @param n2 the examples of the other side
     * @param outputs O, the model's outputs per example
     * @return n2·O·O for {@code full}, n2·O for {@code diagonal}, n2 for the N×N kinds
     */
    public long entriesPerRow(int n2, int outputs) {
        return isFull() ? (long) n2 * outputs * outputs : isPerOutput() ? (long) n2 * outputs : n2;
    }

    /**
     * For a model whose kernel is k ⊗ I_O (every output the same kernel k, none across outputs, as at infinite
     * width), the factor of k in this N×N kind: O for {@code pntk-unscaled} (the sum over O outputs), 1 for
     * {@code trace}, {@code pntk} (the mean), {@code logit:K} and {@code probes:R} (unit-variance probes).
     *
     * @param outputs O, the model's outputs per example
     * @return the factor
     * @throws IllegalArgumentException for {@code full} and {@code diagonal} (not N×N), {@code projected:K} (it
     *     sketches the parameters: no such counterpart), and {@code logit:K} with K &gt;= O
     */
    public double scaleOfSharedKernel(int outputs) {
        switch (family) {
            case TRACE:
            case PNTK:
            case PROBES:
                return 1;
            case PNTK_UNSCALED:
                return outputs;
            case LOGIT:
                if (arg >= outputs) {
                    throw new IllegalArgumentException("--kind " + this + ": the model has " + outputs + " logits");
                }
                return 1;
            case PROJECTED:
                throw new IllegalArgumentException("--infinite: --kind " + this + " has no infinite-width "
                        + "counterpart (it sketches the parameters); use full, trace, diagonal, pntk, "
                        + "pntk-unscaled, logit:K or probes:R");
            default:
                throw new IllegalArgumentException("kind " + this + " is not an N×N kernel");
        }
    }

    /**
     * The plain kernel computation that gives this kind: {@code e} with the kind's axes (full, diagonal, trace;
     * projected:K's sketch runs on the rows of the trace kernel's Jacobian contraction), or, for the projections of
     * the logits, the trace kernel of f followed by the projection.
     */
    EmpiricalNtk plainKernel(EmpiricalNtk e, int[] perExample) {
        switch (family) {
            case FULL:
                return e.traceAxes().diagonalAxes();
            case DIAGONAL:
                return e.traceAxes().diagonalAxes(-1);
            case TRACE:
            case PROJECTED:
                return e.traceAxes(-1).diagonalAxes();
            default:
                return e.withModel(wrap(e.model(), logits(e.model(), perExample)));
        }
    }

    /** O for a model whose outputs are [N, O]; refuses others, naming this kind. */
    int logits(Model model, int[] perExample) {
        int[] out = model.outputShape(perExample);
        if (out.length != 1) {
            throw new IllegalArgumentException("kind " + this + ": needs outputs [N, O], the model gives [N] + "
                    + org.ntk4j.tensor.Shapes.str(out));
        }
        return out[0];
    }

    /** True for the kinds computed as the plain kernel of f followed by a fixed projection of its logits. */
    boolean isProjectionOfLogits() {
        return family == Family.PNTK || family == Family.PNTK_UNSCALED || family == Family.LOGIT
                || family == Family.PROBES;
    }

    /** The key of a base model's cache of wrapped models ({@link Model#attachedCache}). */
    private static final Object WRAPPED = new Object();
    /** Wrapped models kept per base model: a kind and a number of outputs each. */
    private static final int WRAPPED_KEPT = 8;

    /**
     * A wrapped model's key: the kind as {@link #equals} compares it (what it computes: the seed only of a seeded
     * kind, so that logit:K under two seeds is one model, each seed of probes:R a model of its own) and the outputs.
     */
    private record WrappedKey(KernelKind kind, int outputs) {
    }

    /**
     * A base model's wrapped models by {@link WrappedKey}, the {@value #WRAPPED_KEPT} used last: a dropped one, and
     * all of them when the base model's caches are released, have their own caches (plans, graphs) released.
     */
    private static final class Wrapped implements AutoCloseable {
        final LruCache<WrappedKey, Model> models = new LruCache<>(WRAPPED_KEPT, Model::releaseCaches);

        @Override
        public void close() {
            models.clear();
        }
    }

    /** The model f followed by the kind's fixed projection M (rows: the new outputs); one object per (f, kind). */
    Model wrap(Model model, int outputs) {
        return model.attachedCache(WRAPPED, Wrapped::new).models.get(new WrappedKey(this, outputs),
                k -> wrapOnce(model, outputs));
    }

    private Model wrapOnce(Model model, int outputs) {
        double[][] m;
        switch (family) {
            case PNTK:
            case PNTK_UNSCALED: {
                double v = family == Family.PNTK ? 1 / Math.sqrt(outputs) : 1;
                m = new double[1][outputs];
                java.util.Arrays.fill(m[0], v);
                break;
            }
            case LOGIT:
                if (arg >= outputs) {
                    throw new IllegalArgumentException("kind: logit:" + arg + " but the model has " + outputs
                            + " outputs (0.." + (outputs - 1) + ")");
                }
                m = new double[1][outputs];
                m[0][arg] = 1;
                break;
            case PROBES: {
                // the R × O probe matrix is held on the heap as it is drawn: what no tensor could hold is refused
                // here, by the argument, not by an OutOfMemoryError
                if ((long) arg * outputs > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("kind: probes:" + arg + " on " + outputs + " outputs is a "
                            + "probe matrix of " + (long) arg * outputs + " entries, more than one tensor holds ("
                            + Integer.MAX_VALUE + ")");
                }
                long heap = Runtime.getRuntime().maxMemory();
                if (probeMatrixBytes(outputs) > heap / 10 * 9) { // the three copies, the rest of the heap beside
                    throw new IllegalArgumentException("kind: probes:" + arg + " on " + outputs + " outputs is a "
                            + "probe matrix of " + CostModel.human(probeMatrixBytes(outputs)) + " as it is built, "
                            + "more than 90% of the JVM's heap (" + CostModel.human(heap) + ")");
                }
                SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + 12345);
                m = new double[arg][outputs];
                double v = 1 / Math.sqrt(outputs);
                for (double[] row : m) {
                    for (int o = 0; o < outputs; o++) {
                        row[o] = r.nextBoolean() ? v : -v;
                    }
                }
                break;
            }
            default:
                throw new IllegalStateException(family + " is not a projection of the logits");
        }
        // with the model's buffers (batch-norm running statistics; the paths are the network's): the projected network
        // is the network, not the one of the default statistics (before 2026-12-07 they were dropped)
        return new Model(followedBy(model.root(), new FixedProjection(m)), model.spec() + " then " + this)
                .withBuffers(model.buffers());
    }

    /**
     * The model whose trace kernel is this kind, for cost estimates (projection kinds only: pntk,
     * pntk-unscaled, logit, probes).
     *
     * @param model the network, with outputs [N, O]
     * @param perExample shape of one example, without the batch axis
     * @return f followed by the kind's fixed projection of the O logits
     * @throws IllegalArgumentException if the model's outputs are not [N, O], or logit:K has K &gt;= O
     * @throws IllegalStateException if the kind is not a projection of the logits (full, trace, diagonal,
     *     projected)
     */
    public Model wrapForCost(Model model, int[] perExample) {
        int[] out = model.outputShape(perExample);
        if (out.length != 1) {
            throw new IllegalArgumentException("kind " + this + ": needs outputs [N, O], the model gives [N] + "
                    + java.util.Arrays.toString(out));
        }
        return wrap(model, out[0]);
    }

    /** {@code first} then {@code second}, with first's parameters under their own names (no prefix). */
    private static Layer followedBy(Layer first, Layer second) {
        return new Layer() {
            @Override
            public String kind() {
                return first.kind();
            }

            @Override
            public List<int[]> outputShapes(List<int[]> in) {
                return second.outputShapes(first.outputShapes(in));
            }

            @Override
            public void declare(ParamScope scope, List<int[]> in) {
                first.declare(scope, in);
            }

            @Override
            public List<Var> apply(ParamScope scope, List<Var> in) {
                return second.apply(scope.child("readout"), first.apply(scope, in));
            }

            @Override
            public boolean independentExamples() {
                return first.independentExamples();
            }
        };
    }

    /**
     * Two kinds are equal when they compute the same kernel: the same family and argument, and for the seeded
     * kinds ({@link #isSeeded()}) the same seed (the seed kept by the others is ignored).
     *
     * @param o the other object
     * @return whether {@code o} is a kind computing the same kernel
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof KernelKind k && k.family == family && k.arg == arg && (!isSeeded() || k.seed == seed);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(family, arg, isSeeded() ? seed : 0L);
    }

    @Override
    public String toString() {
        String n = family.name().toLowerCase(Locale.ROOT).replace('_', '-');
        return family == Family.LOGIT || family == Family.PROBES || family == Family.PROJECTED ? n + ":" + arg : n;
    }
}
