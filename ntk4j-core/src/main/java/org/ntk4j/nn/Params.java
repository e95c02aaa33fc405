package org.ntk4j.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The parameters of a network: tensors by hierarchical path ({@code 0_dense/w}), in declaration order.
 * Owns its tensors ({@link #close()} releases them).
 */
public final class Params implements AutoCloseable {
    private final Map<String, Tensor> tensors;
    private final Map<String, Tensor> buffers;

    /**
     * Parameters from tensors by path; the new object takes ownership of the tensors (closes them).
     *
     * @param tensors tensors by path, copied in the map's iteration order (the tensors themselves are not copied)
     */
    public Params(Map<String, Tensor> tensors) {
        this(tensors, Map.of());
    }

    /**
     * Parameters and buffers (the model's constants, see {@link Model#bufferSpecs}) by path; the new object
     * takes ownership of all the tensors.
     *
     * @param tensors parameter tensors by path, copied in the map's iteration order
     * @param buffers buffer tensors by path, copied in the map's iteration order
     */
    public Params(Map<String, Tensor> tensors, Map<String, Tensor> buffers) {
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        this.buffers = Collections.unmodifiableMap(new LinkedHashMap<>(buffers));
    }

    /**
     * A deep copy: the parameters and the buffers copied, owned by the caller.
     *
     * @return new parameters holding copies of these tensors and buffers
     */
    public Params copy() {
        return new Params(copies(tensors), copies(buffers));
    }

    /**
     * A copy of each tensor of a map, in its order.
     *
     * @param tensors tensors by path; not closed
     * @return a new map of new tensors, owned by the caller
     */
    public static Map<String, Tensor> copies(Map<String, Tensor> tensors) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        tensors.forEach((k, v) -> m.put(k, v.copy()));
        return m;
    }

    /**
     * These parameters with the given buffers instead of this object's (which must have none); the result takes
     * ownership of this object's tensors and of the buffers, so close only the result.
     *
     * @param newBuffers buffer tensors by path
     * @return the parameters with the buffers
     * @throws IllegalStateException if this object already has buffers
     */
    public Params withBuffers(Map<String, Tensor> newBuffers) {
        if (!buffers.isEmpty()) {
            throw new IllegalStateException("these parameters already have buffers " + buffers.keySet());
        }
        return new Params(tensors, newBuffers);
    }

    /**
     * The model's buffers (constants such as batch-norm running statistics) held next to the parameters, by
     * path; empty for a model without buffers. They are not parameters: {@link #count}, {@link #tensors} and
     * {@link #validate} ignore them.
     *
     * @return an unmodifiable map of the buffer tensors, owned by this object
     */
    public Map<String, Tensor> buffers() {
        return buffers;
    }

    /**
     * Draws every parameter from N(mean, std²) of its spec. Deterministic and bit-identical on any machine
     * and thread count: each parameter has its own generator, seeded by (seed, path) through a 64-bit
     * FNV-1a hash of the path, and Gaussians come from the Box-Muller transform with {@link StrictMath},
     * whose results the Java specification fixes to the bit.
     *
     * @param specs the parameters to draw, in declaration order
     * @param seed the seed
     * @param dtype the dtype of the tensors
     * @return the new parameters, which the caller closes
     * @throws IllegalStateException if two specs have the same path
     */
    public static Params initialise(List<ParamSpec> specs, long seed, DType dtype) {
        return byPath(specs, s -> {
            Tensor t = Tensor.empty(dtype, s.shape());
            long streamSeed = seed ^ (fnv1a64(s.path()) * 0x9E3779B97F4A7C15L);
            int n = t.size();
            int pairs = (n + 1) / 2;
            // Pair p takes draws 2p and 2p + 1 of the tensor's SplittableRandom stream, so chunks of pairs can start
            // anywhere in it (SplitMix64: draw k is a function of the seed and k) and run on several cores with the
            // very same numbers. The StrictMath calls dominate (they are native calls on JDK 17).
            org.ntk4j.cpu.Parallel.range(pairs, 1 << 14, (lo, hi) -> {
                SplitMix64 r = new SplitMix64(streamSeed, 2L * lo);
                for (int pair = lo; pair < hi; pair++) {
                    int i = 2 * pair;
                    // Box-Muller: two independent N(0,1) from two uniforms in (0, 1]
                    double u1 = 1.0 - r.nextDouble();
                    double u2 = r.nextDouble();
                    double radius = StrictMath.sqrt(-2.0 * StrictMath.log(u1));
                    double angle = 2.0 * StrictMath.PI * u2;
                    t.setFlat(i, s.initMean() + s.initStd() * radius * StrictMath.cos(angle));
                    if (i + 1 < n) {
                        t.setFlat(i + 1, s.initMean() + s.initStd() * radius * StrictMath.sin(angle));
                    }
                }
            });
            if (drawsStayFinite(s, dtype)) {
                t.markFinite(t.trackedWrites()); // no NaN/Inf scan needed on the first kernel call
            }
            return t;
        });
    }

    /**
     * Zero parameters of the given specs: for questions that read only the parameters' shapes (a cost or a tile
     * plan, {@code ntk4j explain --tiled}) without drawing or loading any.
     *
     * @param specs the parameters, in declaration order
     * @param dtype the dtype of the tensors
     * @return the new parameters, which the caller closes
     * @throws IllegalStateException if two specs have the same path
     */
    public static Params zeros(List<ParamSpec> specs, DType dtype) {
        return byPath(specs, s -> {
            Tensor t = Tensor.zeros(dtype, s.shape());
            t.markFinite(t.trackedWrites());
            return t;
        });
    }

    /** A tensor per spec, made by {@code make}, under the spec's path; two specs of one path are refused. */
    private static Params byPath(List<ParamSpec> specs, java.util.function.Function<ParamSpec, Tensor> make) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (ParamSpec s : specs) {
            if (m.containsKey(s.path())) {
                throw new IllegalStateException("parameter path " + s.path() + " declared twice");
            }
            m.put(s.path(), make.apply(s));
        }
        return new Params(m);
    }

    /**
     * Largest Box-Muller radius above: √(−2 ln u1) with u1 ≥ 2⁻⁵³ (the smallest of 1 − nextDouble), √(106 ln 2) =
     * 8.5717…, rounded up.
     */
    private static final double MAX_RADIUS = 8.572;

    /**
     * Whether every draw of {@code s} is finite in {@code dtype} by construction: |mean| + |std|·{@link #MAX_RADIUS}
     * (|cos|, |sin| ≤ 1) is below the largest finite value, with a margin for rounding. Then the tensor needs no
     * NaN/Inf scan — 2.1 M parameters of the W = 512 FCN example took a sixth of a command-line first call's
     * computation, in code the JIT had not compiled yet. A NaN or huge mean or std is not exempt: it is scanned,
     * and reported, as before.
     */
    static boolean drawsStayFinite(ParamSpec s, DType dtype) {
        double bound = Math.abs(s.initMean()) + Math.abs(s.initStd()) * MAX_RADIUS;
        double largest = dtype == DType.F32 ? Float.MAX_VALUE : Double.MAX_VALUE;
        return bound < largest * 0.5; // false for a NaN or infinite bound too
    }

    /**
     * The stream of {@link SplittableRandom#SplittableRandom(long)}, {@code nextDouble} by {@code nextDouble}, started
     * at any draw: SplitMix64, draw k (from 0) = mix(seed + (k + 1)·γ) with γ = 0x9E3779B97F4A7C15 and Stafford's
     * variant 13 as the mix; a double is the top 53 bits times 2⁻⁵³. The JDK documents the algorithm (and
     * {@code InitialisationTest} compares the two, draw by draw), so parameters drawn before and after are the
     * same bits.
     */
    static final class SplitMix64 {
        private static final long GAMMA = 0x9E3779B97F4A7C15L;
        private long state;

        SplitMix64(long seed, long skip) {
            state = seed + skip * GAMMA;
        }

        long nextLong() {
            long z = state += GAMMA;
            z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
            z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
            return z ^ (z >>> 31);
        }

        double nextDouble() {
            return (nextLong() >>> 11) * 0x1.0p-53;
        }
    }

    static long fnv1a64(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    /**
     * Tensors by path, in declaration order.
     *
     * @return an unmodifiable map of the tensors, which stay owned by this object
     */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /**
     * The tensor at {@code path}.
     *
     * @param path the parameter's full path, e.g. {@code 0_dense/w}
     * @return the tensor, owned by this object (do not close it)
     * @throws IllegalArgumentException if there is no parameter at that path
     */
    public Tensor get(String path) {
        Tensor t = tensors.get(path);
        if (t == null) {
            throw new IllegalArgumentException("no parameter named '" + path + "'; have " + tensors.keySet());
        }
        return t;
    }

    /**
     * Total number of scalar parameters.
     *
     * @return the sum of the tensors' sizes
     */
    public long count() {
        long n = 0;
        for (Tensor t : tensors.values()) {
            n += t.size();
        }
        return n;
    }

    /**
     * The first spec whose parameter is present with another shape (the shapes follow from the input's shape,
     * so a caller may blame either).
     *
     * @param specs the model's parameter specs
     * @return that spec, or null when every present parameter has its spec's shape
     */
    public ParamSpec firstMisshapen(List<ParamSpec> specs) {
        for (ParamSpec s : specs) {
            Tensor t = tensors.get(s.path());
            if (t != null && !java.util.Arrays.equals(t.shape(), s.shape())) {
                return s;
            }
        }
        return null;
    }

    /**
     * Checks these parameters against a model's specs: the same number of parameters, a tensor at every spec's
     * path (the order is not compared), same shapes, the given dtype, and finite values. Fails with a message
     * naming the first mismatch.
     *
     * @param specs the model's parameter specs
     * @param dtype the dtype every tensor must have
     * @throws IllegalArgumentException at the first mismatch
     * @throws IllegalStateException if a parameter tensor was closed
     */
    public void validate(List<ParamSpec> specs, DType dtype) {
        validate(specs, dtype, null);
    }

    /**
     * {@link #validate(List, DType)} where the dtype is that of an input: a parameter of another dtype is reported
     * with both dtypes and the input's name (as in "x1 is f32"), since the input may as well be the mistake.
     *
     * @param specs the model's parameter specs
     * @param dtype the dtype every tensor must have: the input's
     * @param input the input whose dtype {@code dtype} is (such as "x1"), or null to name none
     * @throws IllegalArgumentException at the first mismatch
     * @throws IllegalStateException if a parameter tensor was closed
     */
    public void validate(List<ParamSpec> specs, DType dtype, String input) {
        if (specs.size() != tensors.size()) {
            throw new IllegalArgumentException("parameters: the model has " + specs.size() + " parameters "
                    + "but the file has " + tensors.size() + " (" + tensors.keySet() + ")");
        }
        ParamSpec misshapen = firstMisshapen(specs);
        for (ParamSpec s : specs) {
            Tensor t = tensors.get(s.path());
            if (t == null) {
                throw new IllegalArgumentException("parameters: missing '" + s.path() + "'; have "
                        + tensors.keySet());
            }
            if (s == misshapen) {
                throw new IllegalArgumentException("parameters: '" + s.path() + "' must have shape "
                        + Shapes.str(s.shape()) + ", has " + Shapes.str(t.shape()));
            }
            if (t.isClosed()) {
                throw new IllegalStateException("parameters: '" + s.path() + "' was closed (were the Params closed?); "
                        + "keep them open until every call reading them has returned");
            }
            if (t.dtype() != dtype) {
                throw new IllegalArgumentException("parameters: '" + s.path() + "' must be " + dtype.shortName()
                        + (input == null ? "" : " because " + input + " is " + dtype.shortName()) + ", is "
                        + t.dtype().shortName() + (input == null ? "" : " (convert the parameters or " + input
                        + " so that both have one dtype)"));
            }
        }
        List<String> paths = new ArrayList<>(specs.size());
        for (ParamSpec s : specs) {
            paths.add(s.path());
        }
        requireFinite(paths);
    }

    /**
     * Refuses NaN or ±∞ in any parameter tensor, in the words of {@link #validate(List, DType, String)}: one line
     * naming the first such parameter in this object's order, the value and its flat index. For a caller that has
     * no model at hand to validate against (Spark's driver checks a run's parameters before any task).
     *
     * @throws IllegalArgumentException for the first parameter holding a non-finite value
     */
    public void requireFinite() {
        requireFinite(new ArrayList<>(tensors.keySet()));
    }

    private void requireFinite(List<String> paths) {
        // The values last, in reverse order: the scan leaves the last tensors it read in the cache, and the
        // forward pass that follows reads the first layers' first (a 25 MB first layer then comes from L3, not
        // memory). Every tensor is scanned unless known finite (scanned before with no write since that could have
        // gone unseen: Tensor.knownFinite); the message names the first non-finite one in the given order.
        IllegalArgumentException first = null;
        for (int i = paths.size() - 1; i >= 0; i--) {
            Tensor t = tensors.get(paths.get(i));
            int bad = org.ntk4j.cpu.Reduce.firstNonFiniteUnlessKnown(t);
            if (bad >= 0) {
                first = new IllegalArgumentException("parameters: '" + paths.get(i) + "' has a non-finite value ("
                        + t.getFlat(bad) + ") at flat index " + bad);
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public void close() {
        for (Tensor t : tensors.values()) {
            t.close();
        }
        for (Tensor t : buffers.values()) {
            t.close();
        }
    }
}
