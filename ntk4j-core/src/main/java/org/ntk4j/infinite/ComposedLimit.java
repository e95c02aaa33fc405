package org.ntk4j.infinite;

import static org.ntk4j.infinite.PixelPairs.imageWeights;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ntk4j.nn.Activation;
import org.ntk4j.nn.AvgPool;
import org.ntk4j.nn.BatchNormEval;
import org.ntk4j.nn.Conv;
import org.ntk4j.nn.Dense;
import org.ntk4j.nn.FanInConcat;
import org.ntk4j.nn.FanInSum;
import org.ntk4j.nn.FanOut;
import org.ntk4j.nn.Flatten;
import org.ntk4j.nn.GlobalAvgPool;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.LayerNorm;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Parallel;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Serial;
import org.ntk4j.nn.ToImage;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The infinite-width NNGP and NTK of a {@link Model} built from {@link org.ntk4j.nn.Layers}, composed layer by layer
 * as neural-tangents' {@code stax} {@code kernel_fn} does: each layer maps the kernel state of a pair of examples
 * (x, x') — the covariance K(x, x') of one unit's value, the NTK Θ(x, x') and each example's own variance K(x, x)
 * — to the next. For networks on vectors (dense inputs):
 * <pre>
 *   input:      K = x·x'/d (the mean over the d features), Θ = 0
 *   dense:      K ← σ_w² K + σ_b²,   Θ ← K_new + σ_w² Θ (NTK param.)  or  n·K + [b] + σ_w² Θ (standard)
 *   activation: K ← E[φ(u)φ(v)],     Θ ← E[φ'(u)φ'(v)]·Θ     ((u, v) ~ N(0, [[K(x,x), K], [K, K(x',x')]]))
 *   fan_out:    copies the state to each branch;  parallel: branch i maps state i
 *   fan_in_sum: K ← Σ K_i, Θ ← Σ Θ_i (and the variances alike)
 *   fan_in_concat (features): K ← Σ c_i K_i / Σ c_i, Θ alike (c_i the branches' widths; the plain mean if equal)
 *   flatten, identity: unchanged
 *   layer_norm:      K ← K/√((K(x,x)+ε)(K(x',x')+ε)),  Θ ← Θ/√((K(x,x)+ε)(K(x',x')+ε)) + K_new + 1
 *   batch_norm_eval: K ← K/(v+ε),                      Θ ← (Θ + K)/(v+ε) + 1     (running mean 0, variance v)
 * </pre>
 * ([b] = 1 when the dense layer has a bias, σ_b ≠ 0; n its actual fan-in: under the standard parameterisation the
 * NTK grows with the widths, and, as for {@link FcnLimit} and neural-tangents, the "limit" is the leading-order NTK
 * at the network's widths.)
 *
 * <p>On images [H, W, C] ([H, W]: one channel, as to_image reads them) the state is a map over pairs of pixels
 * (p, p'), as {@link CnnLimit} and {@link ResNetLimit} keep it ({@link PixelPairs}): the input's x(p)·x'(p')/C;
 * a 2-D convolution (any kh × kw filter, strides s and zero padding: SAME, VALID or explicit) sums the map at the
 * same filter offset δ of both pixels, K'[p, p'] ← σ_w²/(kh·kw) Σ_δ K[s·p+δ−pad, s·p'+δ−pad] + σ_b² (a pixel in
 * the padding adds zero) and Θ alike (n = the input channels under the standard parameterisation), so the map
 * shrinks or grows with the image; a dense layer on an image acts per pixel as a 1 × 1 convolution (examples
 * [H, W, C], and [H, W] read by to_image, are images whether or not the network has a conv); avg_pool is linear
 * and shares its window's pixels, K'[q, q'] ← Σ_{a ∈ window(q)} Σ_{b ∈ window(q')} K[a, b] / (d_q d_q') and Θ
 * alike, with the layer's own divisors d
 * (the window's size, also for SAME, or the pixels it covers without count_include_pad); fan_in_concat on the
 * channels takes Σ c_i K_i / Σ c_i per pixel pair; activations and sums act per pixel pair, also after a flatten
 * (its units' variances differ from pixel to pixel), until a dense layer reads the flattened map's diagonal mean
 * (p = p': distinct pixels meet different weights); global_avg_pool takes the mean over every pair (p, p'), after
 * which the state is a vector's. A conv's output diagonal (p = p') reads only its input's, whatever its strides and
 * padding, so a network without a pool keeps the diagonal only (O(HW) per pair); a global_avg_pool, or an avg_pool
 * whose window has more than one pixel, reads pairs of distinct pixels, and such a network computes the whole
 * (HW)² maps from its input on. (A band |p − p'| within the pools' reach would do, at the cost of more
 * bookkeeping; not done.)
 *
 * <p>fan_in_concat follows neural-tangents' FanInConcat: along the channels of images or the features of vectors
 * the concatenation's units keep their own branch's kernel, and what reads it next (a dense or conv layer's sum
 * over its inputs, a pool, a sum) sees their mean, weighted by the branches' widths c_i as the network has them
 * (the "limit at the network's widths"; neural-tangents takes the plain mean where they are equal, as here). Its
 * branches may be correlated (each of the next layer's weights meets one unit); a flattened image is first read as
 * a dense layer reads it (its diagonal mean). As neural-tangents marks it, the result is not Gaussian for an
 * activation (its units differ from branch to branch: refused until a dense or conv layer), nor a layer's output
 * for the network's logits (which would differ from logit to logit).
 *
 * <p>The normalisations are taken with their learnable scale γ and shift β at initialisation (γ = 1, β = 0; the
 * terms K_new + 1 are γ's and β's gradients, x̂(x)·x̂(x') and 1 per unit) and ε as their forward passes add it.
 * layer_norm normalises the last axis — a vector's features, an image's channels per pixel (its own variances
 * K(x,x)[p,p]), or all the features of a flattened image (one variance, the mean of the diagonal) — of a
 * zero-mean Gaussian value alike in every unit (a dense or conv layer's output, sums and pools of such): as the
 * width grows its mean over the units → 0 and its variance → K(x,x), so x̂ → x/√(K(x,x)+ε); the gradient through
 * the mean and the variance adds O(1/width) to Θ. neural-tangents' LayerNorm has the same K and Θ/√(...) but no
 * parameters (so no K_new + 1) and ε = 1e-12 by default: {@code new LayerNorm(1e-12, false)}, whose rule is
 * that. batch_norm_eval is an affine map per channel with the model's buffers ({@link Model#withBuffers}, or the
 * defaults 0 and 1), exact on any value where every running mean is 0 and every running variance the same v.
 * Each adds to a unit's Θ its own x̂(x)x̂(x') (γ's term), which a dense or conv layer reads as its mean K but an
 * activation next meets with its own value: there Θ ←
 * E[φ'(u)φ'(v)](Θ − g K) + g E[φ'(u)φ'(v) u v] for the g normalisations since the last dense or conv layer, for
 * every activation ({@link ActivationDuals#crossAndMoment}): E[φ'φ' u v] is E[φ(u)φ(v)] for relu, leaky_relu and
 * abs (positively homogeneous), in closed form for erf ((4/π) K/D^{3/2}, D = (1+2K(x,x))(1+2K(x',x')) − 4K²),
 * gaussian, exp, sin and cos, and integrated numerically on the nodes of the other expectations for tanh, sigmoid,
 * softplus, silu, gelu and elu. The output of either is no layer's output for the network's logits (γ's term makes
 * each logit's NTK random), but it keeps its dense or conv heads for a sum (it is odd in their weights).
 *
 * <p>The activations' expectations come from {@link ActivationDuals} (closed forms, or a numerical integration for
 * tanh, sigmoid, softplus, silu and elu); each example's own variances come from its own pass (the pair (x, x))
 * once, so a pair's pass evaluates only the cross expectation of each activation.
 *
 * <p>Where these rules are not the network's limit, the composition is refused in one line naming the layer and
 * its parameter path, rather than computed (neural-tangents computes them regardless):
 * <ul>
 *   <li>an activation (other than identity) of something that is not Gaussian in the limit — the inputs
 *       themselves, another activation's output, a sum with such a branch, or a fan_in_concat: the dual
 *       expectations assume Gaussian pre-activations alike in every unit;</li>
 *   <li>a fan_in_sum of two branches that are correlated: the kernels add only where every cross moment vanishes,
 *       which holds when of each two branches one is the output of dense or conv layers (flatten, identity, pools
 *       and sums keep that) that the other does not depend on — their zero-mean weights are independent of it —
 *       as in a residual block's branch and identity; not for parallel(identity, identity), whose sum has four
 *       times the kernel, nor for parallel(identity, relu) after a dense layer;</li>
 *   <li>a fan_in_sum with the inputs themselves: the branch summed with them would have the input's finite
 *       width, which the limit cannot take to infinity;</li>
 *   <li>a network whose output is not that of a dense layer (an activation, a normalisation or a concatenation
 *       last: the output's logits would have nonzero means or a random NTK, or kernels that differ from logit to
 *       logit), or not a vector, and a dense layer on per-example values of rank 2, or above 3 (flatten or pool
 *       first);</li>
 *   <li>fan_in_concat along a spatial axis, and a fan_in_sum of flattened images of different sizes;</li>
 *   <li>a layer_norm of the inputs themselves (their own statistics, not a limit's), of a value that is not
 *       Gaussian (an activation's output: its mean over the units does not vanish; a fan_in_concat), or of another
 *       axis than a vector's features or an image's channels; a batch_norm_eval of the inputs themselves (its
 *       scale and shift, one per input feature, give the NTK a share that stays random at any width), or whose
 *       running means are not 0 or whose running variances differ from channel to channel; any activation of a
 *       sum with a normalisation's output (γ's term, that output's own value, would need the branches' joint
 *       moments; right after the normalisation every activation is covered);</li>
 *   <li>1-D or grouped convolutions, 1-D pools, and any other layer (max_pool, batch_norm in training mode,
 *       attention...): no infinite-width rule here.</li>
 * </ul>
 * The limit is diagonal in the logits (K ⊗ I_O, Θ ⊗ I_O); {@link #kernel} lays it out as the empirical kernel of
 * the same kind. For the zoo's fcn, cnn and resnet it equals {@link FcnLimit}, {@link CnnLimit} and
 * {@link ResNetLimit} (to rounding).
 */
public final class ComposedLimit implements InfiniteLimit {
    /** What the composition supports, as its refusals name it. */
    public static final String SUPPORTED_LAYERS = "serial, parallel, fan_out, fan_in_sum, dense, flatten, identity, "
            + "fan_in_concat (channels or features), the activations relu, leaky_relu, erf, tanh, sigmoid, gelu, "
            + "softplus, sin, abs, exp, gaussian, cos, silu and elu, layer_norm (of a dense or conv layer's output: a "
            + "vector's features, an image's channels, a flattened image's features), batch_norm_eval (zero running "
            + "means, one running variance), and on images to_image, conv (2-D, any strides and zero padding, no "
            + "groups), avg_pool (2-D) and global_avg_pool";

    private static final int DENSE = 0;
    private static final int ACT = 1;
    private static final int COPY = 2;
    private static final int ADD = 3;
    private static final int CONV = 4;
    private static final int GAP = 5;
    private static final int DIAGONAL = 6;
    private static final int POOL = 7;
    private static final int SCALE = 8;
    private static final int AXPY = 9;
    private static final int NORM = 10;
    private static final int AFFINE = 11;

    private final String spec;
    private final int[] exampleShape;
    private final int features;
    private final int out;
    /** The program over registers of {K, Θ}: per op its code, registers (dst, src) and constants. */
    private final int[] code;
    private final int[] dst;
    private final int[] src;
    private final double[] w2;
    private final double[] b2;
    private final double[] fanIn;
    private final double[] bias;
    private final boolean[] standard;
    /** Per op: a layer_norm's ε, and whether it normalises a flattened image's features as one (one variance). */
    private final double[] eps;
    private final boolean[] flat;
    /** Per layer_norm op: whether it has a scale and a shift (their gradients add K_new + 1 to Θ). */
    private final boolean[] affine;
    /** Per activation op: the γ terms of its input (see {@link Branch}), 0 for others. */
    private final int[] gammas;
    /** Per op: the pixels of the map its register holds (0: one entry), and a conv's or a pool's window. */
    private final int[] pixels;
    private final PixelPairs.Window[] window;
    /**
     * Per op, its activation (ACT) or null; per variance point (an activation, or a layer_norm: null), its activation
     * and its map's pixels (0: one entry).
     */
    private final Activation[] acts;
    private final Activation[] points;
    private final int[] pointPixels;
    /** Per variance point: whether its activation meets normalisations' γ terms (E[φ'φ' u v] too). */
    private final boolean[] pointMoment;
    private final int registers;
    private final int result;
    /**
     * Images: the input's geometry (null for vectors), the most pixels of any map, whether the maps are full and
     * whether own passes are, and the first layer that needs full maps (for the refusal of maps that do not fit).
     */
    private final PixelPairs.Geometry input;
    private final int maxPixels;
    private final boolean full;
    private final boolean selfFull;
    private final String fullFor;

    private ComposedLimit(String spec, int[] exampleShape, int out, Compiler c, int result) {
        this.spec = spec;
        this.exampleShape = exampleShape.clone();
        this.features = Math.max(1, Shapes.size(exampleShape));
        this.out = out;
        int n = c.ops.size();
        code = new int[n];
        dst = new int[n];
        src = new int[n];
        w2 = new double[n];
        b2 = new double[n];
        fanIn = new double[n];
        bias = new double[n];
        standard = new boolean[n];
        eps = new double[n];
        flat = new boolean[n];
        affine = new boolean[n];
        gammas = new int[n];
        pixels = new int[n];
        window = new PixelPairs.Window[n];
        acts = new Activation[n];
        boolean needsFull = false;
        boolean varianceAfter = false;
        for (int i = 0; i < n; i++) {
            Op o = c.ops.get(i);
            code[i] = o.code;
            dst[i] = o.dst;
            src[i] = o.src;
            w2[i] = o.w2;
            b2[i] = o.b2;
            fanIn[i] = o.fanIn;
            bias[i] = o.bias;
            standard[i] = o.standard;
            eps[i] = o.eps;
            flat[i] = o.flat;
            affine[i] = o.affine;
            gammas[i] = o.gammas;
            pixels[i] = o.pixels;
            window[i] = o.window;
            acts[i] = o.act;
            // a global pool reads every pixel pair, and so does a pool whose window has more than one pixel
            needsFull |= o.code == GAP || o.code == POOL && o.window.kh * o.window.kw > 1;
            varianceAfter |= needsFull && (o.code == ACT || o.code == NORM);
        }
        points = c.points.toArray(new Activation[0]);
        pointPixels = new int[points.length];
        pointMoment = new boolean[points.length];
        for (int i = 0; i < n; i++) {
            if (code[i] == ACT || code[i] == NORM) {
                pointPixels[src[i]] = flat[i] ? 0 : pixels[i];
            }
            if (code[i] == ACT) {
                pointMoment[src[i]] = gammas[i] > 0;
            }
        }
        registers = c.registers;
        this.result = result;
        this.input = c.input;
        this.maxPixels = c.maxPixels;
        this.full = needsFull;
        // an own pass reads full maps only where an activation or a layer_norm after such a pool needs its variance
        this.selfFull = needsFull && varianceAfter;
        this.fullFor = c.fullFor;
    }

    /** Entries of a map of {@code px} pixels (0: one entry), every pair of pixels or the diagonal. */
    private static int cells(int px, boolean fullMaps) {
        return px == 0 ? 1 : fullMaps ? px * px : px;
    }

    /**
     * The limit of {@code model} for examples of shape {@code exampleShape}, composed from its layers; refused in
     * one line naming the first layer without a rule (or whose rule would not be the network's limit, see the
     * class comment) and its parameter path.
     *
     * @param model the network, made of the layers of {@link #SUPPORTED_LAYERS}
     * @param exampleShape the per-example input shape (without the batch axis); not modified
     * @return the limit
     * @throws IllegalArgumentException if model or exampleShape is null, the shape does not fit the model, or a
     *     layer has no infinite-width rule
     */
    public static ComposedLimit of(Model model, int[] exampleShape) {
        if (model == null || exampleShape == null) {
            throw new IllegalArgumentException("infinite limit: expected a model and an example shape, got model "
                    + model + ", example shape " + (exampleShape == null ? null : Shapes.str(exampleShape)));
        }
        int[] shape = exampleShape.clone();
        model.outputShape(shape); // refuses a shape that does not fit, in the model's words
        Compiler c = new Compiler(model, shape);
        // examples [H, W, C] are images even without a conv or a pool: a dense layer may act on them per pixel
        boolean images = usesImages(model.root()) || shape.length == 3;
        if (images) {
            if (shape.length != 2 && shape.length != 3) {
                throw new IllegalArgumentException("infinite limit: a network with convolutions or pools "
                        + "takes images [H, W] or [H, W, C] per example, got " + Shapes.str(shape));
            }
            c.input = new PixelPairs.Geometry(shape[0], shape[1], shape.length == 3 ? shape[2] : 1, 1);
            c.maxPixels = c.input.pixels;
        }
        Branch in = new Branch(0, shape, false, Set.of(), null, true, images ? new int[] {shape[0], shape[1]} : null,
                0);
        Branch end = c.compile(model.root(), "", List.of(in)).get(0);
        if (end.shape.length != 1 || !end.fresh() || end.image()) {
            throw new IllegalArgumentException("infinite limit: the network's output (shape " + Shapes.str(end.shape)
                    + ") must be a vector from a dense layer (its limit K ⊗ I_O is that of zero-mean Gaussian "
                    + "logits); it ends with " + c.last + "; supported: " + SUPPORTED_LAYERS);
        }
        return new ComposedLimit(model.spec(), shape, end.shape[0], c, end.reg);
    }

    /**
     * Whether the tree holds a conv, a pool or a to_image: the state is then a map over pairs of pixels (to_image
     * included, so that a dense layer after it acts per pixel of the [H, W, 1] image it makes, as on examples
     * [H, W, C]; it was refused as acting on values of rank 3).
     */
    private static boolean usesImages(Layer layer) {
        if (layer instanceof Serial s) {
            return s.layers().stream().anyMatch(ComposedLimit::usesImages);
        }
        if (layer instanceof Parallel p) {
            return p.layers().stream().anyMatch(ComposedLimit::usesImages);
        }
        return layer instanceof Conv || layer instanceof GlobalAvgPool || layer instanceof AvgPool
                || layer instanceof ToImage;
    }

    /**
     * One value flowing between the layers at compile time: its register, shape and what is known of it — whether
     * it is Gaussian in the limit, the dense and conv layers it depends on, and, where it is the output of such
     * layers (or a sum of such, after flatten, pooling or identity), those layers ({@code heads}; null otherwise);
     * {@code raw}: the inputs themselves; {@code map}: the size {h, w} of the map over pairs of pixels its state is
     * (also once flattened), null for a vector's one entry; {@code gammas}: how many normalisations' scales γ it
     * has passed since the last dense or conv layer (each adds to a unit's Θ the product of the unit's own values
     * at x and x', which an activation next must take into its expectation), −1 where a sum mixed such a value with
     * another (whose γ terms are then no longer the sum's own values).
     */
    private record Branch(int reg, int[] shape, boolean gaussian, Set<Integer> deps, Set<Integer> heads,
                          boolean raw, int[] map, int gammas) {
        /**
         * Whether it is a layer's output for the network's logits: a dense layer's (or a sum of such), not after a
         * normalisation, whose γ makes each logit's NTK random.
         */
        boolean fresh() {
            return heads != null && gammas == 0;
        }

        boolean image() {
            return map != null;
        }

        int pixels() {
            return map == null ? 0 : map[0] * map[1];
        }

        Branch with(int[] newShape, int[] newMap) {
            return new Branch(reg, newShape, gaussian, deps, heads, raw, newMap, gammas);
        }

        /**
         * Whether this value and {@code o} are uncorrelated in the limit, NNGP and NTK alike: one of them is a sum of
         * layers' outputs whose weights the other does not depend on (they are zero-mean and independent of it, so
         * E[f(x) g(x')] vanishes, and so do the NTK's cross terms).
         */
        boolean uncorrelated(Branch o) {
            return heads != null && java.util.Collections.disjoint(heads, o.deps)
                    || o.heads != null && java.util.Collections.disjoint(o.heads, deps);
        }
    }

    /** One step of the program. */
    private static final class Op {
        int code;
        int dst;
        int src;
        double w2;
        double b2;
        double fanIn;
        double bias;
        boolean standard;
        double eps;
        boolean flat;
        boolean affine;
        int gammas;
        int pixels;
        PixelPairs.Window window;
        Activation act;
    }

    /** Compiles a layer tree into the register program. */
    private static final class Compiler {
        final List<Op> ops = new ArrayList<>();
        final List<Activation> points = new ArrayList<>();
        int registers = 1;
        /** The input images' geometry, null for vectors; the most pixels of any map; the first full maps' layer. */
        PixelPairs.Geometry input;
        int maxPixels;
        String fullFor;
        /** The last layer compiled, as "kind (at path P)". */
        String last = "the inputs";
        /** The model's buffer values by path ({@link Model#withBuffers}, or the declared defaults). */
        final Map<String, double[]> buffers;

        /** A compiler for {@code model}'s examples of shape {@code shape}, refusing buffers the model would. */
        Compiler(Model model, int[] shape) {
            try {
                buffers = model.bufferValues(shape);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("infinite limit: " + e.getMessage(), e);
            }
        }

        /** A buffer's values (given, or its declared default). */
        private double[] buffer(String path) {
            return buffers.get(path);
        }

        List<Branch> compile(Layer layer, String path, List<Branch> in) {
            String at = layer.kind() + " (at path " + (path.isEmpty() ? "(the root)" : path) + ")";
            List<Branch> r = compileLayer(layer, path, at, in);
            if (!(layer instanceof Serial)) {
                last = at;
            }
            return r;
        }

        private static String child(String path, int i, Layer l) {
            return (path.isEmpty() ? "" : path + "/") + i + "_" + l.kind();
        }

        private Op add(int code, Branch b) {
            Op op = new Op();
            op.code = code;
            op.dst = b.reg;
            op.pixels = b.pixels();
            ops.add(op);
            return op;
        }

        private List<Branch> compileLayer(Layer layer, String path, String at, List<Branch> in) {
            if (layer instanceof Serial s) {
                List<Branch> v = in;
                for (int i = 0; i < s.layers().size(); i++) {
                    Layer l = s.layers().get(i);
                    v = compile(l, child(path, i, l), v);
                }
                return v;
            }
            if (layer instanceof Parallel p) {
                List<Branch> o = new ArrayList<>();
                for (int i = 0; i < p.layers().size(); i++) {
                    Layer l = p.layers().get(i);
                    o.addAll(compile(l, child(path, i, l), List.of(in.get(i))));
                }
                return o;
            }
            if (layer instanceof FanOut) {
                Branch b = in.get(0);
                int n = layer.outputShapes(List.of(b.shape)).size();
                List<Branch> o = new ArrayList<>();
                o.add(b);
                for (int i = 1; i < n; i++) {
                    Op op = add(COPY, b);
                    op.dst = registers++;
                    op.src = b.reg;
                    o.add(new Branch(op.dst, b.shape, b.gaussian, b.deps, b.heads, b.raw, b.map, b.gammas));
                }
                return o;
            }
            if (layer instanceof FanInSum) {
                return List.of(sum(at, in));
            }
            if (layer instanceof FanInConcat f) {
                return List.of(concat(at, f, in));
            }
            Branch b = in.get(0);
            if (layer instanceof Flatten) {
                // a map stays a map until a dense layer reads it (DIAGONAL: the features of distinct pixels meet
                // different weights, so only p = p' counts): its units differ in variance from pixel to pixel, so an
                // activation after the flatten still acts per pixel, as it would before it
                return List.of(b.with(new int[] {Shapes.size(b.shape)}, b.map));
            }
            if (layer instanceof ToImage) {
                return List.of(b.with(layer.outputShapes(List.of(b.shape)).get(0), b.map));
            }
            if (layer instanceof GlobalAvgPool) {
                if (!b.image() || b.shape.length != 3) {
                    throw new IllegalArgumentException("infinite limit: layer " + at + " pools per-example inputs "
                            + Shapes.str(b.shape) + ", which the limit covers for images [H, W, C] only");
                }
                add(GAP, b);
                fullFor = fullFor == null ? "global_avg_pool" : fullFor;
                return List.of(b.with(new int[] {b.shape[2]}, null));
            }
            if (layer instanceof AvgPool p) {
                return List.of(avgPool(at, p, b));
            }
            if (layer instanceof Activation a) {
                return List.of(activation(at, a, b));
            }
            if (layer instanceof Dense d) {
                if (b.image() && b.shape.length == 3) {
                    // per pixel on the channels, as neural-tangents' Dense on images: a 1 × 1 convolution (the same
                    // fan-in C, weights shared by the pixels)
                    Op op = add(CONV, b);
                    int[] one = {1, 1};
                    op.window = PixelPairs.Window.conv(b.shape[0], b.shape[1], one, one, new int[2][2]);
                    return List.of(linear(op, b, d.wStd(), d.bStd(), d.parameterization(), b.shape[2], 1,
                            new int[] {b.shape[0], b.shape[1], d.out()}));
                }
                if (b.shape.length != 1) {
                    throw new IllegalArgumentException("infinite limit: layer " + at + " acts on the last axis of "
                            + "per-example inputs " + Shapes.str(b.shape) + ", which the limit covers for vectors "
                            + "and images [H, W, C] only; flatten or pool first");
                }
                Branch v = b;
                if (b.image()) { // a flattened map: the mean of its diagonal is the vector's covariance
                    add(DIAGONAL, b);
                    v = b.with(b.shape, null);
                }
                return List.of(linear(add(DENSE, v), v, d.wStd(), d.bStd(), d.parameterization(), v.shape[0], 1,
                        new int[] {d.out()}));
            }
            if (layer instanceof Conv c) {
                return List.of(conv(at, c, b));
            }
            if (layer instanceof LayerNorm n) {
                return List.of(layerNorm(at, n, b));
            }
            if (layer instanceof BatchNormEval n) {
                return List.of(batchNormEval(at, path, n, b));
            }
            throw new IllegalArgumentException("infinite limit: layer " + at + " has no infinite-width rule; "
                    + "supported: " + SUPPORTED_LAYERS);
        }

        /** An activation: per unit (vectors) or per pixel pair (maps), of a Gaussian value only. */
        private Branch activation(String at, Activation a, Branch b) {
            if (a.function() == Activation.Kind.IDENTITY) {
                return b;
            }
            if (!b.gaussian) {
                throw new IllegalArgumentException("infinite limit: layer " + at + " acts on "
                        + (b.raw ? "the inputs themselves" : "a value that is not Gaussian in the limit (another "
                        + "activation's output, a sum with one, or a fan_in_concat, whose units' kernels differ from "
                        + "branch to branch)") + ", where the dual expectations, which assume Gaussian "
                        + "pre-activations, are not its limit; put a dense or conv layer before it");
            }
            if (b.gammas < 0) {
                // γ's term is the normalised unit's own x̂(x)x̂(x'): right after the normalisation the activation
                // meets it as its own u·v, E[φ'(u)φ'(v) u v] (ActivationDuals.crossAndMoment, every activation). In a
                // sum u = x̂ + w the term is x̂x̂' alone, and E[φ'(u)φ'(v) x̂ x̂'] needs the joint law of (x̂, w) per
                // input pair, the branches' joint moments, which the two-variable state (K, Θ) does not carry
                throw new IllegalArgumentException("infinite limit: layer " + at + " acts on a sum with a "
                        + "layer_norm's or batch_norm_eval's output, whose scale's gradient, that output's own value, "
                        + "is correlated with the sum in a way the kernels do not carry (the branches' joint "
                        + "moments); the limit covers any activation right after the normalisation (and pools, "
                        + "flatten), not after a sum");
            }
            Op op = add(ACT, b);
            op.src = points.size();
            op.act = a;
            op.gammas = b.gammas;
            points.add(a);
            return new Branch(b.reg, b.shape, false, b.deps, null, false, b.map, 0);
        }

        /**
         * A layer_norm over the last axis — the features of a vector, the channels of an image per pixel, or all the
         * features of a flattened image — of a zero-mean Gaussian value alike in every unit (see the class comment):
         * K ← K / √((K(x,x) + ε)(K(x',x') + ε)) with each example's own variance at the point (per pixel, or the
         * flattened map's diagonal mean), Θ ← Θ / √(...) + K_new + 1 (the scale's and the shift's gradients; without
         * them, neural-tangents' LayerNorm, Θ ← Θ / √(...)). Its output is Gaussian again and, with them, keeps its
         * heads (it is odd in their weights), but is no layer's output for the logits. Other axes, the inputs
         * themselves and values that are not such Gaussians are refused.
         */
        private Branch layerNorm(String at, LayerNorm n, Branch b) {
            boolean perPixel = b.image() && b.shape.length == 3;
            if (!perPixel && b.shape.length != 1) {
                throw new IllegalArgumentException("infinite limit: layer " + at + " normalises the last axis of "
                        + "per-example values " + Shapes.str(b.shape) + ", which the limit covers for vectors and "
                        + "the channels of images [H, W, C] only");
            }
            if (!b.gaussian) {
                // the limit's mean over the units would not vanish (an activation's output), or the units would
                // not be alike; the inputs' own statistics are those of the finite examples, not a limit's
                throw new IllegalArgumentException("infinite limit: layer " + at + " normalises "
                        + (b.raw ? "the inputs themselves (standardise the examples instead)" : "a value that is "
                        + "not Gaussian in the limit (an activation's output, whose mean over the units does not "
                        + "vanish, a sum with one, or a fan_in_concat, whose units differ from branch to branch)")
                        + ", where the rule K/√((K(x,x)+ε)(K(x',x')+ε)), which assumes zero-mean Gaussian units alike "
                        + "in every unit, is not its limit; put a dense or conv layer before it");
            }
            Op op = add(NORM, b);
            op.src = points.size();
            op.eps = n.eps();
            op.flat = b.image() && !perPixel;
            op.affine = n.affine();
            points.add(null);
            if (!n.affine()) {
                // neural-tangents' LayerNorm: no γ term for an activation next to meet; but no layer's output for
                // the logits either (heads null): at the end of the network it would normalise over the O logits,
                // a finite axis whose mean and variance over the units have no limit
                return new Branch(b.reg, b.shape, true, b.deps, null, false, b.map, b.gammas);
            }
            return new Branch(b.reg, b.shape, true, b.deps, b.heads, false, b.map, next(b.gammas));
        }

        /** A normalisation's count of γ terms on a value with {@code gammas} (−1: mixed by a sum, stays so). */
        private static int next(int gammas) {
            return gammas < 0 ? -1 : gammas + 1;
        }

        /**
         * A batch_norm_eval whose running statistics (the model's buffers, given or the defaults 0 and 1) are a zero
         * mean and one variance v for every channel: an affine map of every unit alike, K ← K/(v + ε) and
         * Θ ← (Θ + K)/(v + ε) + 1 (the scale's and the shift's gradients), on any value; its output keeps what is
         * known of it (its heads: it is odd in their weights), but is no layer's output for the logits. Other
         * statistics are refused: a nonzero mean gives the units nonzero means, variances that differ from channel
         * to channel units that are not alike. So is one of the inputs themselves (also flattened, pooled or read
         * as an image): its scale and shift are one per input feature, a number the width does not grow, so their
         * share of the NTK (each a sum over the next layer's units of its weights times the units' derivatives)
         * stays random as the width grows, and its mean is not the rule's (the derivatives are correlated with the
         * next layer's weights on a finite feature; a wide relu network's mean eNTK was up to 51% off it).
         */
        private Branch batchNormEval(String at, String path, BatchNormEval n, Branch b) {
            if (b.raw) {
                throw new IllegalArgumentException("infinite limit: layer " + at + " normalises the inputs "
                        + "themselves, whose scale and shift (one per input feature, which the width does not grow) "
                        + "give the NTK a share that stays random as the width grows, so it has no limit; standardise "
                        + "the examples instead, or put a dense or conv layer before it");
            }
            String prefix = path.isEmpty() ? "" : path + "/";
            double[] mean = buffer(prefix + "running_mean");
            double[] var = buffer(prefix + "running_var");
            for (int c = 0; c < mean.length; c++) {
                if (mean[c] != 0) {
                    throw new IllegalArgumentException("infinite limit: layer " + at + " has running_mean " + mean[c]
                            + " at channel " + c + ", where the limit covers zero running means (a nonzero one gives "
                            + "the units nonzero means, which the rules' zero-mean Gaussians are not)");
                }
                if (var[c] != var[0]) {
                    throw new IllegalArgumentException("infinite limit: layer " + at + " has running_var " + var[0]
                            + " at channel 0 and " + var[c] + " at channel " + c + ", where the limit covers one "
                            + "running variance for every channel (others scale the channels' kernels apart, so the "
                            + "units are not alike)");
                }
            }
            if (!(var[0] + n.eps() > 0)) {
                throw new IllegalArgumentException("infinite limit: layer " + at + " has running_var " + var[0]
                        + ", where var + ε must be > 0 (ε = " + n.eps() + ": the forward pass takes its square root)");
            }
            Op op = add(AFFINE, b);
            op.w2 = 1 / (var[0] + n.eps());
            return new Branch(b.reg, b.shape, b.gaussian, b.deps, b.heads, b.raw, b.map, next(b.gammas));
        }

        /**
         * A 2-D convolution without groups, any strides and zero padding (SAME, VALID or explicit): each output pixel
         * pair sums the input's at the same filter offset (see {@link PixelPairs#convolve}); 1-D and grouped ones are
         * refused naming what they are.
         */
        private Branch conv(String at, Conv c, Branch b) {
            int[] f = c.filter();
            String why = f.length != 2 ? "is 1-D (the limit covers 2-D convolutions of images)"
                    : c.groups() != 1 ? "has " + c.groups() + " groups (the limit covers ungrouped convolutions)"
                    : !b.image() || b.shape.length != 3 ? "acts on per-example values " + Shapes.str(b.shape)
                    + " that are no image map (the limit covers convolutions of images [H, W, C])"
                    : null;
            if (why != null) {
                throw new IllegalArgumentException("infinite limit: layer " + at + " " + why + "; supported: "
                        + SUPPORTED_LAYERS);
            }
            Op op = add(CONV, b);
            op.window = PixelPairs.Window.conv(b.shape[0], b.shape[1], f, c.strides(), c.padding(b.shape));
            maxPixels = Math.max(maxPixels, op.window.outPixels);
            Branch r = linear(op, b, c.wStd(), c.bStd(), c.parameterization(), b.shape[2], f[0] * f[1],
                    c.outputShapes(List.of(b.shape)).get(0));
            return r.with(r.shape, new int[] {op.window.oh, op.window.ow});
        }

        /**
         * A 2-D avg_pool (any window, strides, padding, count_include_pad): linear, each output pixel pair the mean
         * over the pairs of the two windows' pixels, with the layer's own divisors (see {@link PixelPairs#pool}); the
         * value keeps what is known of it (Gaussian, its heads). 1-D pools are refused.
         */
        private Branch avgPool(String at, AvgPool p, Branch b) {
            int[] k = p.window();
            String why = k.length != 2 ? "is 1-D (the limit covers 2-D pools of images)"
                    : !b.image() || b.shape.length != 3 ? "pools per-example values " + Shapes.str(b.shape)
                    + " that are no image map (the limit covers pools of images [H, W, C])"
                    : null;
            if (why != null) {
                throw new IllegalArgumentException("infinite limit: layer " + at + " " + why + "; supported: "
                        + SUPPORTED_LAYERS);
            }
            Op op = add(POOL, b);
            op.window = PixelPairs.Window.pool(b.shape[0], b.shape[1], k, p.strides(), p.padding(b.shape),
                    p.countIncludePad());
            maxPixels = Math.max(maxPixels, op.window.outPixels);
            if (k[0] * k[1] > 1 && fullFor == null) {
                fullFor = "avg_pool";
            }
            return b.with(p.outputShapes(List.of(b.shape)).get(0), new int[] {op.window.oh, op.window.ow});
        }

        /**
         * A dense or conv layer's constants into {@code op}: σ_w²/taps (taps: the filter's offsets, 1 for dense),
         * σ_b², the standard parameterisation's fan-in n (channels for a conv) and [b]; its output is a fresh
         * Gaussian value.
         */
        private Branch linear(Op op, Branch b, double wStd, double bStd, Parameterization p, int n, int taps,
                              int[] shape) {
            op.w2 = wStd * wStd / taps;
            op.b2 = bStd * bStd;
            op.fanIn = n;
            op.bias = bStd != 0 ? 1 : 0;
            op.standard = p != Parameterization.NTK;
            int id = ops.size() - 1;
            Set<Integer> deps = new HashSet<>(b.deps);
            deps.add(id);
            return new Branch(b.reg, shape, true, deps, Set.of(id), false, b.map, 0);
        }

        /** A fan_in_sum: the kernels of uncorrelated branches add (see the class comment); others are refused. */
        private Branch sum(String at, List<Branch> in) {
            for (int i = 0; i < in.size(); i++) {
                if (in.get(i).raw && in.size() > 1) {
                    throw new IllegalArgumentException("infinite limit: layer " + at + " sums the inputs "
                            + "themselves (branch " + i + ") with another branch, whose width is then the input's "
                            + "and cannot go to infinity; put a dense or conv layer before the fan_out");
                }
                if (in.get(i).image() != in.get(0).image()) {
                    throw new IllegalArgumentException("infinite limit: layer " + at + " sums a flattened image "
                            + "with a vector (branches 0 and " + i + "), whose units' covariances are laid out "
                            + "differently; flatten after the sum, or put a dense layer on the flattened branch");
                }
                if (!Arrays.equals(in.get(i).map, in.get(0).map)) {
                    throw new IllegalArgumentException("infinite limit: layer " + at + " sums flattened images of "
                            + "different sizes (branches 0 and " + i + ": " + Arrays.toString(in.get(0).map)
                            + " and " + Arrays.toString(in.get(i).map) + " pixels), whose units' covariances are "
                            + "laid out differently; put a dense layer on each flattened branch");
                }
                for (int j = i + 1; j < in.size(); j++) {
                    if (!in.get(i).uncorrelated(in.get(j))) {
                        throw new IllegalArgumentException("infinite limit: layer " + at + " sums branches " + i
                                + " and " + j + ", which are correlated (neither ends in a dense or conv layer the "
                                + "other does not depend on), so their kernels do not add; end one of them with a "
                                + "layer of its own");
                    }
                }
            }
            Branch first = in.get(0);
            boolean gaussian = true;
            Set<Integer> deps = new HashSet<>();
            Set<Integer> heads = new HashSet<>();
            int gammas = 0;
            for (int i = 0; i < in.size(); i++) {
                Branch b = in.get(i);
                gaussian &= b.gaussian;
                gammas = gammas == 0 && (i == 0 || b.gammas == 0) ? b.gammas : -1;
                deps.addAll(b.deps);
                if (heads != null && b.heads != null) {
                    heads.addAll(b.heads);
                } else {
                    heads = null;
                }
                if (i > 0) {
                    Op op = add(ADD, first);
                    op.src = b.reg;
                }
            }
            return new Branch(first.reg, first.shape, gaussian, deps, heads, false, first.map,
                    in.size() == 1 ? first.gammas : gammas);
        }

        /**
         * A fan_in_concat on the channel axis of images or the feature axis of vectors, as neural-tangents'
         * FanInConcat: the concatenation's units have their own branch's kernel, and what reads it next (a dense or
         * conv layer's sum over its inputs, a pool, a sum) reads their mean, Σ c_i K_i / Σ c_i over branches of
         * c_i channels or features (the plain mean where the c_i are equal), Θ alike. Its units are then not alike,
         * so, as neural-tangents marks it, the value is not Gaussian for an activation (refused until a dense or
         * conv layer), nor a layer's output for the network's. Flattened images are first read as the next dense
         * layer reads them (the mean of their diagonals). Other axes are refused.
         */
        private Branch concat(String at, FanInConcat f, List<Branch> in) {
            int[] shape = f.outputShapes(in.stream().map(Branch::shape).toList()).get(0);
            int rank = shape.length;
            int axis = f.axis(rank);
            boolean channels = rank == 3 && axis == 2 && in.stream().allMatch(Branch::image);
            if (!channels && rank != 1) {
                throw new IllegalArgumentException("infinite limit: layer " + at + " concatenates per-example "
                        + "values of shape " + Shapes.str(in.get(0).shape) + " along axis " + axis + ", where the "
                        + "limit covers the channel axis of images [H, W, C] and the feature axis of vectors; "
                        + "supported: " + SUPPORTED_LAYERS);
            }
            double total = 0;
            boolean equal = true;
            for (Branch b : in) {
                total += b.shape[axis];
                equal &= b.shape[axis] == in.get(0).shape[axis];
            }
            Set<Integer> deps = new HashSet<>();
            Branch first = null;
            for (Branch b : in) {
                if (rank == 1 && b.image()) { // a flattened map: its diagonal's mean, as a dense layer reads it
                    add(DIAGONAL, b);
                    b = b.with(b.shape, null);
                }
                // neural-tangents' weights: the widths, or 1 each where they are equal
                double weight = equal ? 1.0 / in.size() : b.shape[axis] / total;
                Op op = add(first == null ? SCALE : AXPY, first == null ? b : first);
                op.src = b.reg;
                op.w2 = weight;
                first = first == null ? b : first;
                deps.addAll(b.deps);
            }
            return new Branch(first.reg, shape, false, deps, null, false, channels ? first.map : null, 0);
        }
    }

    /**
     * A worker's registers and scratch: K and Θ per register (maps of the most pixels, or one entry), two maps for
     * convolutions and pools.
     */
    private final class Worker {
        final double[][] k;
        final double[][] t;
        final double[] s;
        final double[] u;
        final ActivationDuals.Scratch duals = new ActivationDuals.Scratch();

        Worker(boolean fullMaps) {
            int cells = input == null ? 1 : cells(maxPixels, fullMaps);
            k = new double[registers][cells];
            t = new double[registers][cells];
            s = new double[input == null ? 0 : cells];
            u = new double[input == null ? 0 : cells];
        }
    }

    /**
     * {K, Θ} of the output for the examples a and b into {@code kt}: the program run from the input covariance, over
     * full maps or their diagonals ({@code fullMaps}), with the examples' own variances at each activation from
     * {@code selfA} and {@code selfB} (per activation point: a pixel map, or one entry); {@code record}, when not
     * null, gets K's diagonal before each activation (the pass of (x, x), which then reads its own record as selfA
     * and selfB). Allocation-free with the worker's registers and scratch.
     */
    private void pair(double[] a, double[] b, double[][] selfA, double[][] selfB, boolean fullMaps, Worker wk,
                      double[] kt, double[][] record) {
        double[][] k = wk.k;
        double[][] t = wk.t;
        if (input == null) {
            k[0][0] = FcnLimit.dot(a, b) / features;
            t[0][0] = 0;
        } else {
            PixelPairs.inputCovariance(input, a, b, fullMaps, k[0]);
            Arrays.fill(t[0], 0, input.cells(fullMaps), 0);
        }
        for (int i = 0; i < code.length; i++) {
            double[] kd = k[dst[i]];
            double[] td = t[dst[i]];
            int len = cells(pixels[i], fullMaps);
            switch (code[i]) {
                case DENSE: {
                    double kNew = w2[i] * kd[0] + b2[i];
                    double linear = standard[i] ? fanIn[i] * kd[0] + bias[i] : kNew;
                    td[0] = linear + w2[i] * td[0];
                    kd[0] = kNew;
                    break;
                }
                case CONV: {
                    PixelPairs.convolve(window[i], kd, wk.s, fullMaps);
                    PixelPairs.convolve(window[i], td, wk.u, fullMaps);
                    for (int e = 0, n = cells(window[i].outPixels, fullMaps); e < n; e++) {
                        kd[e] = w2[i] * wk.s[e] + b2[i];
                        double linear = standard[i] ? fanIn[i] * wk.s[e] + bias[i] : kd[e];
                        td[e] = linear + w2[i] * wk.u[e];
                    }
                    break;
                }
                case ACT: {
                    int point = src[i];
                    if (pixels[i] > 0) {
                        if (record != null) {
                            diagonal(kd, pixels[i], fullMaps, record[point]);
                        }
                        PixelPairs.activate(acts[i], pixels[i], selfA[point], selfB[point], fullMaps, kd, td,
                                gammas[i], wk.duals);
                    } else {
                        if (record != null) {
                            record[point][0] = kd[0];
                        }
                        PixelPairs.activateCell(acts[i], selfA[point][0], selfB[point][0], kd, td, 0, gammas[i],
                                wk.duals);
                    }
                    break;
                }
                case NORM: {
                    int point = src[i];
                    if (record != null) {
                        if (flat[i]) {
                            record[point][0] = diagonalMean(kd, pixels[i], fullMaps);
                        } else if (pixels[i] > 0) {
                            diagonal(kd, pixels[i], fullMaps, record[point]);
                        } else {
                            record[point][0] = kd[0];
                        }
                    }
                    normalise(kd, td, flat[i] ? 0 : pixels[i], len, fullMaps, selfA[point], selfB[point], eps[i],
                            affine[i]);
                    break;
                }
                case AFFINE:
                    for (int e = 0; e < len; e++) {
                        td[e] = w2[i] * (td[e] + kd[e]) + 1;
                        kd[e] *= w2[i];
                    }
                    break;
                case POOL:
                    PixelPairs.pool(window[i], kd, wk.s, kd, fullMaps);
                    PixelPairs.pool(window[i], td, wk.s, td, fullMaps);
                    break;
                case GAP:
                    kd[0] = PixelPairs.sum(kd, len) / len;
                    td[0] = PixelPairs.sum(td, len) / len;
                    break;
                case DIAGONAL:
                    kd[0] = diagonalMean(kd, pixels[i], fullMaps);
                    td[0] = diagonalMean(td, pixels[i], fullMaps);
                    break;
                case SCALE:
                    for (int e = 0; e < len; e++) {
                        kd[e] *= w2[i];
                        td[e] *= w2[i];
                    }
                    break;
                case AXPY: {
                    double[] ks = k[src[i]];
                    double[] ts = t[src[i]];
                    for (int e = 0; e < len; e++) {
                        kd[e] += w2[i] * ks[e];
                        td[e] += w2[i] * ts[e];
                    }
                    break;
                }
                case COPY:
                    System.arraycopy(k[src[i]], 0, kd, 0, len);
                    System.arraycopy(t[src[i]], 0, td, 0, len);
                    break;
                case ADD: {
                    double[] ks = k[src[i]];
                    double[] ts = t[src[i]];
                    for (int e = 0; e < len; e++) {
                        kd[e] += ks[e];
                        td[e] += ts[e];
                    }
                    break;
                }
                default:
                    throw new AssertionError(code[i]);
            }
        }
        kt[0] = k[result][0];
        kt[1] = t[result][0];
    }

    /**
     * A layer_norm of the first {@code len} cells of the maps k and t ({@code px} pixels, 0: one variance for every
     * cell), with the examples' own variances va and vb (per pixel, or one): K ← K/√((va + ε)(vb + ε)),
     * Θ ← Θ/√(...) + K_new + 1 ({@code affine}: the scale's and the shift's gradients), Θ ← Θ/√(...) without them.
     */
    private static void normalise(double[] k, double[] t, int px, int len, boolean fullMaps, double[] va,
                                  double[] vb, double eps, boolean affine) {
        if (px == 0) {
            double s = 1 / rootOfProduct(va[0] + eps, vb[0] + eps);
            for (int e = 0; e < len; e++) {
                k[e] *= s;
                t[e] = affine ? t[e] * s + k[e] + 1 : t[e] * s;
            }
            return;
        }
        for (int p = 0; p < px; p++) {
            double a = va[p] + eps;
            int row = fullMaps ? p * px : p;
            for (int q = fullMaps ? 0 : p, end = fullMaps ? px : p + 1; q < end; q++) {
                int e = fullMaps ? row + q : p;
                double s = 1 / rootOfProduct(a, vb[q] + eps);
                k[e] *= s;
                t[e] = affine ? t[e] * s + k[e] + 1 : t[e] * s;
            }
        }
    }

    /**
     * √(a·b) as √a·√b, exactly a where a = b: the product a·b overflowed to ∞ for variances beyond about 1e154 (the
     * layer_norm's output, scale-free, was then 0 rather than its correlation), and identical examples keep their
     * normalised covariance exactly equal to their variances.
     */
    private static double rootOfProduct(double a, double b) {
        return a == b ? a : Math.sqrt(a) * Math.sqrt(b);
    }

    /** The diagonal p = p' of a map of {@code pixels} pixels (full: every pair; else the diagonal) into {@code to}. */
    private static void diagonal(double[] map, int pixels, boolean fullMaps, double[] to) {
        for (int p = 0; p < pixels; p++) {
            to[p] = fullMaps ? map[p * pixels + p] : map[p];
        }
    }

    /** The mean of a map's diagonal, added in pixel order (as {@link PixelPairs#sum} adds a diagonal map). */
    private static double diagonalMean(double[] map, int pixels, boolean fullMaps) {
        double s = 0;
        for (int p = 0; p < pixels; p++) {
            s += fullMaps ? map[p * pixels + p] : map[p];
        }
        return s / pixels;
    }

    /**
     * Each example's own variances K(x, x) at each activation, [example][point][pixel or 0]: the pass of the pair
     * (x, x), over diagonals unless an activation after a pool needs the pooled variance.
     */
    private double[][][] selfVariances(double[][] x) {
        double[][][] self = new double[x.length][points.length][];
        Worker wk = new Worker(selfFull);
        double[] kt = new double[2];
        for (int i = 0; i < x.length; i++) {
            for (int p = 0; p < points.length; p++) {
                self[i][p] = new double[Math.max(1, pointPixels[p])];
            }
            pair(x[i], x[i], self[i], self[i], selfFull, wk, kt, self[i]);
        }
        return self;
    }

    /** x [N, ...] as N rows, refusing examples of another shape than the one the limit was built for. */
    private double[][] rows(String name, Tensor x) {
        requireShape(name, x);
        return FcnLimit.flatten(x);
    }

    /** Refuses examples x [N, ...] of another shape than the one the limit was built for. */
    private void requireShape(String name, Tensor x) {
        int[] per = Shapes.dropFirst(x.shape());
        if (!Arrays.equals(per, exampleShape)) {
            throw new IllegalArgumentException("infinite limit: " + name + " examples must have the shape "
                    + Shapes.str(exampleShape) + " the limit was built for, got " + Shapes.str(per));
        }
    }

    @Override
    public int outputs() {
        return out;
    }

    /**
     * {@inheritDoc} Per activation: one cross expectation per pair and map cell (every pixel pair with a
     * global_avg_pool or an avg_pool of more than one pixel, the diagonal's pixels otherwise, one for a vector;
     * each activation's own map size, which strides, padding and pools change), and the same per example for its own
     * variances (the diagonal's pixels, or every pixel pair where its pass needs the full maps).
     */
    @Override
    public double expectations(int n1, int n2, int[] perExample) {
        double sum = 0;
        for (int point = 0; point < points.length; point++) {
            if (points[point] == null) {
                continue; // a layer_norm: no expectation
            }
            int px = pointPixels[point];
            double pixels = Math.max(1, px);
            double cells = px > 0 && full ? pixels * pixels : pixels;
            double own = px > 0 && selfFull ? pixels * pixels : pixels;
            sum += LimitLayout.pairs(n1, n2) * cells + (n1 + (double) n2) * own;
        }
        return sum;
    }

    @Override
    public boolean integratesNumerically() {
        for (int point = 0; point < points.length; point++) {
            if (numericalAt(point)) {
                return true;
            }
        }
        return false;
    }

    /** Whether the expectations at a variance point are integrated numerically (none at a layer_norm's). */
    private boolean numericalAt(int point) {
        return points[point] != null && ActivationDuals.numerical(points[point], pointMoment[point]);
    }

    /**
     * {@inheritDoc} A network mixing closed forms with numerical integrations counts each closed-form expectation
     * at {@link #CLOSED_FORM_SECONDS} / {@link #NUMERICAL_SECONDS} of one numerical one, so that
     * {@link #predictedSeconds(Tensor, Tensor)} prices both at their own rates. Each pair's expectation at a pixel
     * pair (p, q) weighs g(x, p)·g(x', q) from the examples' own variances (the diagonal's, p = q, in a
     * network without pools), and each example's own pass g per pixel.
     *
     * @throws IllegalArgumentException also where {@link #kernel} refuses the pools' full maps
     */
    @Override
    public double weightedExpectations(Tensor x1, Tensor x2) {
        LimitLayout.requireInputs(x1, x2);
        // examples of another shape are refused as the kernel refuses them, closed forms included
        requireShape("x1", x1);
        if (x2 != null) {
            requireShape("x2", x2);
        }
        if (!integratesNumerically()) {
            return LimitLayout.unweighted(this, x1, x2);
        }
        if (input != null) {
            // an activation after a pool makes each example's own pass walk the full (HW)² maps: refuse
            // maps that would not fit as the kernel refuses them, rather than overflow or exhaust the heap here
            workers();
        }
        double[][][] a = selfVariances(rows("x1", x1));
        double[][][] b = x2 == null ? null : selfVariances(rows("x2", x2));
        int n2 = b == null ? 0 : b.length;
        double closed = CLOSED_FORM_SECONDS / NUMERICAL_SECONDS;
        double sum = 0;
        for (int point = 0; point < points.length; point++) {
            Activation act = points[point];
            if (act == null) {
                continue; // a layer_norm: no expectation
            }
            if (!numericalAt(point)) {
                double pixels = Math.max(1, pointPixels[point]);
                double cells = pointPixels[point] > 0 && full ? pixels * pixels : pixels;
                double own = pointPixels[point] > 0 && selfFull ? pixels * pixels : pixels;
                sum += closed * (LimitLayout.pairs(a.length, n2) * cells + (a.length + (double) n2) * own);
                continue;
            }
            int pixels = a.length > 0 ? a[0][point].length : 1;
            if (pointPixels[point] == 0 || full) {
                sum += LimitLayout.pairSum(imageWeights(act, a, point, -1),
                        b == null ? null : imageWeights(act, b, point, -1));
            } else {
                for (int p = 0; p < pixels; p++) {
                    sum += LimitLayout.pairSum(imageWeights(act, a, point, p),
                            b == null ? null : imageWeights(act, b, point, p));
                }
            }
            double ownScale = pointPixels[point] > 0 && selfFull ? pixels : 1; // a full own pass: every pixel pair
            sum += ownScale * (total(imageWeights(act, a, point, -1))
                    + (b == null ? 0 : total(imageWeights(act, b, point, -1))));
        }
        return sum;
    }

    /** Σ g: the examples' own passes, one expectation each. */
    private static double total(double[] g) {
        double s = 0;
        for (double v : g) {
            s += v;
        }
        return s;
    }

    /**
     * {@inheritDoc} Examples must have the shape the limit was built for.
     *
     * @throws IllegalArgumentException also where a pool's full maps for one pair of examples need
     *     more than half of this JVM's heap per worker
     */
    @Override
    public Tensor kernel(KernelKind kind, Tensor x1, Tensor x2, LimitKernel which, DType dtype) {
        LimitLayout.requireInputs(kind, which, x1, x2);
        double[][] a = rows("x1", x1);
        double[][] b = x2 == null ? a : rows("x2", x2);
        int workers = workers();
        double[][][] selfA = selfVariances(a);
        double[][][] selfB = x2 == null ? selfA : selfVariances(b);
        return LimitLayout.layOut(kind, out, a.length, b.length, which, dtype,
                sink -> LimitLayout.eachPairInParallel(a.length, b.length, x2 == null, workers, () -> {
                    Worker wk = new Worker(full);
                    return (i, j, kt) -> pair(a[i], b[j], selfA[i], selfB[j], full, wk, kt, null);
                }, sink));
    }

    /**
     * The most workers whose maps fit in half the heap (vectors: no bound), refusing full maps that do not fit once.
     */
    private int workers() {
        if (input == null) {
            return Integer.MAX_VALUE;
        }
        long cells = full ? (long) maxPixels * maxPixels : maxPixels;
        long bytes = (2L * registers + 2) * Double.BYTES * cells;
        long heap = Runtime.getRuntime().maxMemory() / 2;
        if (cells > Integer.MAX_VALUE - 8 || bytes > heap) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "infinite limit: the "
                    + "%s on %d×%d images needs the covariance of every pair of pixels, %d maps of "
                    + "(HW)² = %d doubles (%.1f MiB; the largest map's HW = %d) per pair of examples, more than half "
                    + "of this JVM's heap (%.1f MiB); use smaller images, flatten instead of the pool (O(HW) per "
                    + "pair), or a larger -Xmx", fullFor == null ? "network" : fullFor, input.h, input.w,
                    2 * registers + 2, cells, bytes / 1048576.0, maxPixels, heap / 1048576.0));
        }
        return (int) Math.max(1, heap / bytes);
    }

    @Override
    public String toString() {
        long activations = Arrays.stream(points).filter(java.util.Objects::nonNull).count();
        return "composed limit of " + spec + " for examples " + Shapes.str(exampleShape) + " (" + activations
                + " activations, out=" + out + (input == null ? "" : full ? ", every pixel pair" : ", pixel diagonals")
                + ")";
    }
}
