package org.ntk4j.onnx;

import static org.ntk4j.onnx.Tracer.MIXED;
import static org.ntk4j.onnx.Tracer.NONE;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.GraphBuilder;
import org.ntk4j.graph.Var;
import org.ntk4j.onnx.Tracer.Const;
import org.ntk4j.onnx.Tracer.Ctx;
import org.ntk4j.onnx.Tracer.Traced;
import org.ntk4j.onnx.Tracer.Value;
import org.ntk4j.onnx.proto.OnnxProtos.TensorProto;
import org.ntk4j.primitive.Sigmoid;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The operator table: one entry per ONNX operator the import maps onto ntk4j primitives. An operator missing here
 * is refused with the node's name and this list. BatchNormalization is the inference form: its running mean and
 * variance are graph constants, never parameters ({@link Ctx#tracedConstant}).
 *
 * <p>Layout: the model's own. Conv takes NCHW (PyTorch's) and maps onto ntk4j's channels-last convolution: its
 * OIHW filter is transposed to HWIO, its input to NHWC unless already held so, and its output stays channels-last
 * ({@link Traced#perm}). Elementwise operators work on values as held; transposes, reshapes, matrix products,
 * softmax, slices, reductions and LayerNormalization work on views ({@link Views}); any other operator reads the
 * file's layout ({@link Traced#var()}), which records the transpose. A Conv-activation-Conv chain thus transposes
 * its activations once in and once out, and PyTorch's attention keeps the example axis first throughout.
 */
final class Operators {
    /** An operator: the node's outputs from its inputs. */
    interface Op {
        Value[] apply(Ctx c);
    }

    private static final int INT64 = TensorProto.DataType.INT64_VALUE;
    private static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;
    static final int BOOL = TensorProto.DataType.BOOL_VALUE;

    static final Map<String, Op> TABLE = new TreeMap<>();

    static {
        // elementwise
        TABLE.put("Relu", c -> unary(c, Var::relu));
        TABLE.put("Sigmoid", c -> unary(c, Var::sigmoid));
        TABLE.put("Tanh", c -> unary(c, Var::tanh));
        TABLE.put("Erf", c -> unary(c, Var::erf));
        TABLE.put("Exp", c -> unary(c, Var::exp));
        TABLE.put("Log", c -> unary(c, Operators::log));
        TABLE.put("Sqrt", c -> c.allConst() ? one(staticUnary(c, Math::sqrt)) : unary(c, Var::sqrt));
        TABLE.put("Neg", c -> c.allConst() ? one(staticUnary(c, v -> -v)) : unary(c, Var::neg));
        TABLE.put("Softplus", c -> unary(c, Var::softplus));
        TABLE.put("Softsign", c -> unary(c, Operators::softsign)); // tf2onnx's Keras softsign
        TABLE.put("ThresholdedRelu", c -> unary(c, v -> thresholdedRelu(v, c.attrFloat("alpha", 1f))));
        TABLE.put("Mish", c -> unary(c, v -> v.mul(v.softplus().tanh()))); // opset 18; torch 1.13 decomposes it
        // sinusoidal position encodings and rotary embeddings: of constants at import, else the primitives
        TABLE.put("Sin", c -> c.allConst() ? one(staticUnary(c, Math::sin)) : unary(c, Var::sin));
        TABLE.put("Cos", c -> c.allConst() ? one(staticUnary(c, Math::cos)) : unary(c, Var::cos));
        // derivative 0 at 0 (sign(0)), as PyTorch and JAX
        TABLE.put("Abs", c -> unary(c, v -> v.relu().add(v.neg().relu())));
        // −1, 0 or 1, without derivative (PyTorch's is 0 everywhere)
        TABLE.put("Sign", Operators::sign);
        TABLE.put("Elu", c -> elu(c, c.attrFloat("alpha", 1f), 1.0));
        // SELU: γ · ELU_α with ONNX's defaults, PyTorch's constants rounded to float32
        TABLE.put("Selu", c -> elu(c, c.attrFloat("alpha", 1.67326319217681884765625f),
                c.attrFloat("gamma", 1.05070102214813232421875f)));
        TABLE.put("Celu", Operators::celu);
        TABLE.put("HardSigmoid", c -> unary(c, v -> hardSigmoid(v, c.attrFloat("alpha", 0.2f),
                c.attrFloat("beta", 0.5f))));
        // x · clip(x/6 + ½, 0, 1) with the clip's derivative 1 at its lower bound and 0 at its upper one: the
        // derivative from the right at both breakpoints, −½ at −3 and 1 at 3, as PyTorch 1.13's vectorised
        // hardswish_backward computes it (its scalar loop, which only a tensor's last few elements reach, gives
        // 3/2 at 3)
        TABLE.put("HardSwish", c -> unary(c, v -> v.mul(clamp(v.mul(1 / 6.0).add(0.5), 0, 1, false))));
        TABLE.put("PRelu", Operators::prelu);
        TABLE.put("LeakyRelu", Operators::leakyRelu);
        TABLE.put("Gelu", Operators::gelu);
        TABLE.put("Clip", Operators::clip);
        TABLE.put("Pow", Operators::pow);
        TABLE.put("Softmax", c -> softmax(c, false));
        TABLE.put("LogSoftmax", c -> softmax(c, true)); // F.log_softmax, the classic classifier's last layer
        TABLE.put("Identity", c -> one(c.in(0)));
        TABLE.put("Dropout", c -> one(c.in(0)));
        TABLE.put("Add", c -> binary(c, Var::add, Double::sum));
        TABLE.put("Sub", c -> binary(c, Var::sub, (a, b) -> a - b));
        TABLE.put("Mul", c -> binary(c, Var::mul, (a, b) -> a * b));
        TABLE.put("Div", c -> binary(c, Var::div, (a, b) -> a / b));
        // variadic, with broadcasting (JAX's relu is Max(x, 0), a clip Min(Max(x, lo), hi)); at a tie the derivative
        // is half of each operand's, as torch.maximum / torch.minimum and JAX's lax.max / lax.min (more than two
        // inputs: pairwise, left to right)
        TABLE.put("Max", c -> variadic(c, Var::maxSplittingTies, Math::max));
        // min(a, b) = -max(-a, -b)
        TABLE.put("Min", c -> variadic(c, (a, b) -> a.neg().maxSplittingTies(b.neg()).neg(), Math::min));
        TABLE.put("Sum", c -> variadic(c, Var::add, Double::sum));
        // tf2onnx writes rsqrt (flax's and Keras's normalisations) as Reciprocal(Sqrt(...))
        TABLE.put("Reciprocal", c -> c.allConst() ? one(staticUnary(c, v -> 1 / v))
                : unary(c, v -> c.builder().scalar(1.0, v.dtype()).div(v)));
        // contractions
        TABLE.put("MatMul", Operators::matMul);
        TABLE.put("Gemm", Operators::gemm);
        TABLE.put("Conv", Operators::conv);
        // nn.ConvTranspose1d/2d: the adjoint of a convolution, ntk4j's conv_input_grad
        TABLE.put("ConvTranspose", Operators::convTranspose);
        // unrolled over the sequence, whose length is static
        TABLE.put("RNN", Recurrent::rnn);
        TABLE.put("GRU", Recurrent::gru);
        TABLE.put("LSTM", Recurrent::lstm);
        TABLE.put("Einsum", Einsum::apply);
        // reductions, pooling and normalisation
        TABLE.put("MaxPool", c -> pool(c, true));
        TABLE.put("AveragePool", c -> pool(c, false));
        TABLE.put("BatchNormalization", Operators::batchNorm);
        TABLE.put("GlobalAveragePool", Operators::globalAveragePool);
        // nn.AdaptiveMaxPool2d(1) where the exporter does not know the spatial size: one window over all of it, its
        // derivative to the first maximum in row-major order, as PyTorch's adaptive_max_pool2d
        TABLE.put("GlobalMaxPool", Operators::globalMaxPool);
        // axes as an input from opset 18 (ReduceSum: 13)
        TABLE.put("ReduceMean", c -> reduce(c, Var::mean, 18));
        TABLE.put("ReduceSum", c -> reduce(c, Var::sum, 13));
        // the derivative goes to the maximal element (JAX's softmax subtracts the maximum, which cancels)
        TABLE.put("ReduceMax", c -> reduce(c, Var::reduceMax, 18));
        TABLE.put("LayerNormalization", Operators::layerNorm);
        // GroupNorm (PyTorch: Reshape to [N, groups, -1], InstanceNormalization of unit scale, Reshape, Mul, Add)
        // and InstanceNorm1d/2d
        TABLE.put("InstanceNormalization", Operators::instanceNorm);
        // F.normalize and torch.norm (ReduceL2), torch.norm(p=1), torch.logsumexp, amin; axes an input from 18
        TABLE.put("ReduceL2", c -> reduce(c, Operators::l2Norm, 18));
        TABLE.put("ReduceL1", c -> reduce(c, (v, a) -> v.relu().add(v.neg().relu()).sum(a), 18));
        TABLE.put("ReduceMin", c -> reduce(c, (v, a) -> v.neg().reduceMax(a).neg(), 18));
        // torch.prod, and the element count of torch.var and torch.std (ReduceProd of the input's shape)
        TABLE.put("ReduceProd", c -> c.allConst() ? one(staticProduct(c)) : reduce(c, MoreOperators::product, 18));
        // max + log Σ exp(x − max): finite for large x; its derivative is the softmax (the max's terms cancel,
        // so none flows through the max: MoreOperators.ShiftConstant)
        TABLE.put("ReduceLogSumExp", c -> reduce(c, (v, a) -> {
            Var m = v.builder().apply(MoreOperators.ShiftConstant.INSTANCE, v.reduceMax(a));
            return m.add(v.sub(keep(m, v.shape(), a)).exp().sum(a).log());
        }, 18));
        // torch.atan, asin, acos, tan; torch.floor, ceil, round (derivative 0, PyTorch's)
        TABLE.put("Atan", c -> MoreOperators.apply(c, MoreOperators.ArcFunction.ATAN));
        TABLE.put("Asin", c -> MoreOperators.apply(c, MoreOperators.ArcFunction.ASIN));
        TABLE.put("Acos", c -> MoreOperators.apply(c, MoreOperators.ArcFunction.ACOS));
        TABLE.put("Tan", MoreOperators::tan);
        TABLE.put("Floor", c -> MoreOperators.apply(c, MoreOperators.Rounding.FLOOR));
        TABLE.put("Ceil", c -> MoreOperators.apply(c, MoreOperators.Rounding.CEIL));
        TABLE.put("Round", c -> MoreOperators.apply(c, MoreOperators.Rounding.ROUND));
        // torch.cumsum
        TABLE.put("CumSum", MoreOperators::cumSum);
        // shapes
        TABLE.put("Flatten", Operators::flatten);
        TABLE.put("Reshape", Operators::reshape);
        TABLE.put("Transpose", Operators::transpose);
        TABLE.put("Pad", Operators::pad);
        TABLE.put("Concat", Operators::concat);
        TABLE.put("Slice", Operators::slice);
        TABLE.put("Split", Operators::split);
        TABLE.put("Squeeze", Operators::squeeze);
        TABLE.put("Unsqueeze", Operators::unsqueeze);
        TABLE.put("Expand", Operators::expand);
        TABLE.put("Trilu", Operators::trilu);
        TABLE.put("Tile", Operators::tile);
        TABLE.put("Gather", Operators::gather);
        // F.one_hot of token ids or of values known at import
        TABLE.put("OneHot", MoreOperators::oneHot);
        // nn.PixelShuffle (DepthToSpace, mode CRD) and its inverse
        TABLE.put("DepthToSpace", c -> MoreOperators.depthSpace(c, true));
        TABLE.put("SpaceToDepth", c -> MoreOperators.depthSpace(c, false));
        // a constant interpolation matrix per resized axis (or a repeat)
        TABLE.put("Resize", Resize::apply);
        // evaluated at import
        TABLE.put("Constant", Operators::constant);
        TABLE.put("Shape", Operators::shape);
        TABLE.put("Cast", Operators::cast);
        TABLE.put("ConstantOfShape", Operators::constantOfShape);
        // comparisons and Where: evaluated at import on constants, else as masks of 0 and 1 (no derivative), which
        // JAX's where-based activations (leaky_relu, elu) need
        TABLE.put("Equal", c -> compare(c, v -> v[0] == v[1], Var::equalTo));
        TABLE.put("Greater", c -> compare(c, v -> v[0] > v[1], Var::greater));
        TABLE.put("Less", c -> compare(c, v -> v[0] < v[1], (a, b) -> b.greater(a)));
        TABLE.put("GreaterOrEqual", c -> compare(c, v -> v[0] >= v[1], (a, b) -> b.greater(a).neg().add(1.0)));
        TABLE.put("LessOrEqual", c -> compare(c, v -> v[0] <= v[1], (a, b) -> a.greater(b).neg().add(1.0)));
        TABLE.put("Not", Operators::not);
        // of masks (nn.Hardshrink: Or of two comparisons)
        TABLE.put("And", c -> MoreOperators.logic(c, 0));
        TABLE.put("Or", c -> MoreOperators.logic(c, 1));
        TABLE.put("Xor", c -> MoreOperators.logic(c, 2));
        TABLE.put("Where", Operators::where);
        TABLE.put("Range", Operators::range);
        TABLE.put("Mod", Operators::mod);
        TABLE.put("ScatterND", Operators::scatterNd);
    }

    private Operators() {
    }

    /** The supported operators, sorted. */
    static List<String> supported() {
        return new ArrayList<>(TABLE.keySet());
    }

    static Value[] one(Value v) {
        return new Value[] {v};
    }

    // ---- elementwise ----

    /** An elementwise function, applied to the value as held (any layout). */
    static Value[] unary(Ctx c, java.util.function.UnaryOperator<Var> f) {
        Traced x = c.traced(0);
        return one(x.withPhys(f.apply(x.phys), x.tBatch));
    }

    /**
     * ln v; of a Sigmoid's output (F.logsigmoid, which PyTorch exports as Log(Sigmoid(x))) the same function as
     * −softplus(−x): σ(x) underflows to 0 below x ≈ −745.1 in float64 (−104 in float32, whose subnormals lose its
     * digits from −87.3), where ln σ(x) is −∞ and its derivative σ'(x)/σ(x) is 0 · ∞ = NaN, though the
     * value, ≈ x, and the derivative, σ(−x) → 1, are finite (PyTorch's log_sigmoid). The Sigmoid stays for any other
     * consumer and is dropped with the graph's dead code when it has none.
     */
    private static Var log(Var v) {
        Equation e = v.builder().producer(v);
        if (e != null && e.primitive() == Sigmoid.INSTANCE) {
            return e.input(0).neg().softplus().neg();
        }
        return v.log();
    }

    private static Value[] leakyRelu(Ctx c) {
        double alpha = c.attrFloat("alpha", 0.01f);
        return unary(c, v -> leakyRelu(v, alpha));
    }

    /**
     * v if v &gt; 0, else α v, with derivative α at 0 (PyTorch's): max(v, α v) for α in [0, 1] (the maximum's
     * derivative goes to α v at the tie), else by the mask [v &gt; 0]. Also a recurrent node's LeakyRelu.
     */
    static Var leakyRelu(Var v, double alpha) {
        if (alpha >= 0 && alpha <= 1) {
            return v.max(v.mul(alpha));
        }
        Var pos = v.greater(0.0);
        return v.mul(pos).add(v.mul(alpha).mul(pos.neg().add(1.0)));
    }

    /**
     * min(y, 0) = −max(0, −y) with y's derivative at y = 0: the negative side's, which PyTorch's ELU, SELU, CELU and
     * PReLU take at 0 (their relu(x) part has derivative 0 there).
     */
    private static Var negativePart(Var y) {
        return y.builder().scalar(0.0, y.dtype()).max(y.neg()).neg();
    }

    /**
     * clip(v, lo, hi) with derivative 1 at lo (max(lo, v), whose derivative goes to its second operand, v, at a tie)
     * and, where {@code atHi}, at hi (min(v, hi) = −max(−hi, −v)), else 0 there (−max(−v, −hi)): with atHi,
     * PyTorch's clamp, derivative 1 on the closed interval [lo, hi].
     */
    static Var clamp(Var v, double lo, double hi, boolean atHi) {
        Var y = lo > Double.NEGATIVE_INFINITY ? v.builder().scalar(lo, v.dtype()).max(v) : v;
        if (hi == Double.POSITIVE_INFINITY) {
            return y;
        }
        return atHi ? y.builder().scalar(-hi, y.dtype()).max(y.neg()).neg() : y.neg().max(-hi).neg();
    }

    /** Sign of a constant at import; of a computed value the masks [x &gt; 0] − [x &lt; 0], without derivative. */
    private static Value[] sign(Ctx c) {
        if (c.allConst()) {
            return one(staticUnary(c, Math::signum));
        }
        Traced x = c.tracedAnyType(0);
        return one(x.withPhys(x.phys.greater(0.0).sub(x.phys.neg().greater(0.0)), x.tBatch));
    }

    /**
     * γ · ELU_α(x) ({@link #elu(Var, double)}), any real α: at 0 the derivative is γα, PyTorch's. Until 2026-12-07
     * it was relu(x) + min(α (e^x − 1), 0), whose e^x of a large x (past 709.8 in float64, 88.7 in float32) is ∞
     * and whose derivative there ∞ · 0 = NaN; and α had to be ≥ 0, for which the two are the same function.
     */
    private static Value[] elu(Ctx c, double alpha, double gamma) {
        if (!Double.isFinite(alpha)) {
            throw c.unsupported("alpha=" + alpha + " (a finite number)");
        }
        return unary(c, v -> gamma == 1 ? elu(v, alpha) : elu(v, alpha).mul(gamma));
    }

    /**
     * ELU_α(x) = relu(x) + α · (e^min(x, 0) − 1), for any real α (a recurrent node's Elu; the standalone operator
     * takes α ≥ 0 above): x for x ≥ 0, else α (e^x − 1). min(x, 0) is {@link #negativePart}, whose derivative at 0
     * is 1, so the derivative at 0 is α, PyTorch's, as the operator's; e^x is never taken of a large x (no ∞ · 0).
     */
    static Var elu(Var v, double alpha) {
        return v.relu().add(negativePart(v).exp().add(-1.0).mul(alpha));
    }

    /**
     * Softsign(x) = x / (1 + |x|), |x| = relu(x) + relu(−x): derivative 1 / (1 + |x|)², 1 at 0 (the product rule's
     * x · d|x| term vanishes there). The standalone operator's and a recurrent node's.
     */
    static Var softsign(Var v) {
        return v.div(v.relu().add(v.neg().relu()).add(1.0));
    }

    /**
     * ThresholdedRelu_α(x) = x for x &gt; α, else 0: x times a mask without derivative, so the derivative is 0 at α
     * itself (onnxruntime's x &gt; α; the RNN text of the specification writes x ≥ α). The standalone operator's
     * and a recurrent node's.
     */
    static Var thresholdedRelu(Var v, double alpha) {
        return v.mul(v.greater(alpha));
    }

    /**
     * CELU_α(x) = relu(x) + α (e^(min(x, 0)/α) − 1), α &gt; 0: the same function as relu(x) + min(α (e^(x/α) − 1),
     * 0), with e^ never taken of a large x (no ∞ · 0 = NaN in the derivative); the derivative at 0 is 1, PyTorch's.
     */
    private static Value[] celu(Ctx c) {
        double alpha = c.attrFloat("alpha", 1f);
        if (!(alpha > 0) || Double.isInfinite(alpha)) {
            throw c.unsupported("alpha=" + alpha + " (only finite alpha > 0)");
        }
        return unary(c, v -> v.relu().add(negativePart(v).mul(1 / alpha).exp().add(-1.0).mul(alpha)));
    }

    /**
     * max(0, min(1, α x + β)), with derivative 0 at the breakpoints (PyTorch's hardsigmoid, 0 at ±3, and JAX's
     * hard_sigmoid): the maximum's derivative goes to the constants at a tie.
     */
    static Var hardSigmoid(Var v, double alpha, double beta) {
        return v.mul(alpha).add(beta).max(0.0).neg().max(-1.0).neg();
    }

    /**
     * PRelu(x, slope) = relu(x) + slope · min(x, 0), the slope (a parameter, as PyTorch's) broadcast; the derivative
     * at x = 0 is the slope, PyTorch's.
     */
    private static Value[] prelu(Ctx c) {
        Traced x = c.traced(0);
        Traced scaledNegative = elementwise(c, c.traced(1), x.withPhys(negativePart(x.phys), x.tBatch), Var::mul);
        return one(elementwise(c, x.withPhys(x.phys.relu(), x.tBatch), scaledNegative, Var::add));
    }

    private static Value[] gelu(Ctx c) {
        String approx = c.attrString("approximate", "none");
        if (approx.equals("tanh")) {
            // 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))
            return unary(c, v -> v.mul(0.5).mul(v.add(v.mul(v).mul(v).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))
                    .tanh().add(1.0)));
        }
        if (approx.equals("none")) {
            // 0.5 x (1 + erf(x / √2))
            return unary(c, v -> v.mul(0.5).mul(v.mul(1 / Math.sqrt(2)).erf().add(1.0)));
        }
        throw c.unsupported("approximate='" + approx + "'");
    }

    private static Value[] clip(Ctx c) {
        double lo = Double.NEGATIVE_INFINITY;
        double hi = Double.POSITIVE_INFINITY;
        if (c.opset() < 11) {
            lo = c.attrFloat("min", Float.NEGATIVE_INFINITY);
            hi = c.attrFloat("max", Float.POSITIVE_INFINITY);
        } else {
            if (computedBound(c, 1) || computedBound(c, 2)) {
                return one(clipComputed(c));
            }
            if (c.has(1)) {
                lo = scalar(c, 1, "min");
            }
            if (c.has(2)) {
                hi = scalar(c, 2, "max");
            }
        }
        if (Double.isNaN(lo) || Double.isNaN(hi)) {
            // no agreed meaning: torch.clamp ignores a NaN bound given alone and gives NaN everywhere beside another
            // bound, NumPy's clip ignores it; before 2026-12-07 (second review) a NaN max made every output NaN
            throw c.error("min and max must be numbers, got min " + lo + ", max " + hi + " (a NaN bound has no "
                    + "agreed meaning; leave it out for no bound)");
        }
        double min = lo;
        double max = hi;
        // torch.clamp's derivative, 1 at the bounds (F.hardtanh's and F.relu6's is 0 there, but they export as the
        // same Clip; F.relu6 is Relu then Clip, so its derivative at 0 is the Relu's 0: only a value at 6 differs)
        return unary(c, v -> clamp(v, min, max, true));
    }

    /** Whether Clip's bound i is given and not a number known at import (a learned bound, or one computed). */
    private static boolean computedBound(Ctx c, int i) {
        return c.has(i) && !(c.in(i) instanceof Const k && !k.weightCandidate());
    }

    /**
     * Clip whose bounds are parameters or computed ({@code h.clamp(min=self.lo)} of an nn.Parameter): min(max(x,
     * lo), hi) with torch.clamp's derivatives, x's where lo ≤ x ≤ hi (ties included), lo's where x &lt; lo, hi's
     * where the result would pass hi; by masks without derivative. Before 2026-12-07 (late night) such bounds were
     * refused.
     */
    private static Traced clipComputed(Ctx c) {
        Traced y = c.traced(0);
        if (c.has(1)) {
            y = elementwise(c, y, c.traced(1), (v, lo) -> {
                Var below = lo.greater(v);
                return v.mul(below.neg().add(1.0)).add(lo.mul(below));
            });
        }
        if (c.has(2)) {
            y = elementwise(c, y, c.traced(2), (v, hi) -> {
                Var above = v.greater(hi);
                return v.mul(above.neg().add(1.0)).add(hi.mul(above));
            });
        }
        return y;
    }

    private static double scalar(Ctx c, int i, String what) {
        Const k = c.constant(i, what);
        if (k.values().length != 1) {
            throw c.error("input " + i + " (" + what + ") must be a single number, has shape " + Shapes.str(k.shape));
        }
        return k.values()[0];
    }

    private static Value[] pow(Ctx c) {
        if (!(c.in(1) instanceof Const e) || c.parameter(1) || e.values().length != 1) {
            // before 2026-12-07 (late night) an exponent stored as an initializer was read as a number known at
            // import, so a learned exponent (a parameter) was silently left out of θ, and one computed from the
            // parameters or from x was refused. A frozen one (--freeze) is the number it holds again, below: as a
            // parameter, x ** 2 of a negative x is NaN (the derivative by the exponent, x² ln x, is PyTorch's NaN
            // too), so freezing is how a file whose fixed exponent is an initializer gets its kernel
            return one(elementwise(c, c.traced(0), c.traced(1), Operators::power));
        }
        double p = scalar(c, 1, "exponent");
        if (c.in(0) instanceof Const k && !k.weightCandidate()) {
            return one(staticUnary(c, v -> Math.pow(v, p)));
        }
        return unary(c, v -> {
            if (p == 1) {
                return v;
            } else if (p == 2) {
                return v.mul(v);
            } else if (p == 3) {
                return v.mul(v).mul(v);
            } else if (p == 0.5) {
                return v.sqrt();
            } else if (p == -1) {
                return c.builder().scalar(1.0, v.dtype()).div(v);
            } else if (p == 0) {
                return v.mul(0.0).add(1.0);
            } else if (p == Math.rint(p) && Math.abs(p) <= 1 << 30) {
                // an integer power of any x, as products (x^4 = (x²)², x^-2 = 1 / x²), as PyTorch computes it
                Var q = integerPower(v, (long) Math.abs(p));
                return p > 0 ? q : c.builder().scalar(1.0, v.dtype()).div(q);
            }
            // x^p = exp(p log x), for x > 0 (NaN for x < 0, as PyTorch's pow of a negative base)
            if (p > 1) {
                // at x = 0, e^(p ln 0) = 0 but its derivative p e^(p ln 0) / 0 = 0 · ∞ = NaN, where PyTorch's (and
                // the true one) p · 0^(p−1) is 0: the same function as e^(p ln(x + z)) (1 − z) with the mask z = [x =
                // 0], without derivative, whose derivative at 0 is 0 and elsewhere unchanged (0 < p < 1: the true
                // derivative at 0 is ∞, PyTorch's too, and the kernel is refused either way)
                Var zero = v.greater(0.0).add(v.neg().greater(0.0)).neg().add(1.0);
                return v.add(zero).log().mul(p).exp().mul(zero.neg().add(1.0));
            }
            return v.log().mul(p).exp();
        });
    }

    /**
     * a^b of computed values (a learned exponent, GeM pooling's {@code x.pow(p)} and {@code .pow(1 / p)}, or
     * {@code 2 ** h}): e^(b ln a), PyTorch's value and derivatives for a &gt; 0. A negative base gives NaN (PyTorch:
     * NaN unless b is a whole number, and its derivative with respect to b is NaN either way). At a = 0, PyTorch's
     * value and derivatives where they are finite, by the mask z = [a = 0][b ≥ 1 or b = 0] without derivative:
     * e^(b ln(a + z)) (1 − z) + z ([b = 1] a + [b = 0]), which is 0 with both derivatives 0 for b &gt; 1, a (value 0,
     * derivative 1 with respect to a, 0 with respect to b) for b = 1, and 1 with both derivatives 0 for b = 0
     * (e^(b ln a) alone gives 0·∞ = NaN derivatives there, and a NaN value at b = 0). Where 0 &lt; b &lt; 1 or b
     * &lt; 0 the derivative at a = 0 is infinite (PyTorch's too) and the kernel is refused as NaN, as for a constant
     * exponent.
     */
    private static Var power(Var a, Var b) {
        Var aZero = a.greater(0.0).add(a.neg().greater(0.0)).neg().add(1.0);
        Var bAbove = b.greater(1.0);
        Var bOne = bAbove.add(b.neg().greater(-1.0)).neg().add(1.0);
        Var bZero = b.greater(0.0).add(b.neg().greater(0.0)).neg().add(1.0);
        Var z = aZero.mul(bAbove.add(bOne).add(bZero));
        Var general = b.mul(log(a.add(z))).exp().mul(z.neg().add(1.0));
        return general.add(z.mul(bOne.mul(a).add(bZero)));
    }

    /** x^n for n ≥ 1 by repeated squaring: x^n = (x^(n/2))² · x^(n mod 2). */
    private static Var integerPower(Var x, long n) {
        if (n == 1) {
            return x;
        }
        Var half = integerPower(x, n / 2);
        Var square = half.mul(half);
        return n % 2 == 0 ? square : square.mul(x);
    }

    /** Softmax, or with {@code log} LogSoftmax: the same axis rules (per opset), the same views. */
    private static Value[] softmax(Ctx c, boolean log) {
        Traced x = c.traced(0);
        int r = x.rank();
        if (c.opset() >= 13) {
            int a = c.axis(c.attrInt("axis", -1), r);
            // over the phys axes the logical axis spans (one, or several where a reshape merged them: Swin's window
            // tokens, [wh, ww] held apart): a softmax over the same elements. An axis of size 1 may be held as none
            // (no phys axis): that case takes the file's layout
            int[] pa = c.views() && x.isView() ? Views.physAxesUnder(x, new int[] {a}) : new int[0];
            if (pa.length > 0) {
                return one(x.withPhys(softmax(x.phys, log, pa), Views.batchUnder(x, new int[] {a}) ? MIXED
                        : x.tBatch));
            }
            return one(c.out(softmax(x.var(), log, a), x.batch == a ? MIXED : x.batch));
        }
        // opsets 11-12: softmax over the axes from 'axis' on, flattened
        int a = c.axis(c.attrInt("axis", 1), r);
        int[] s = x.var().shape();
        Var flat = x.var().reshape(Shapes.size(s, 0, a), Shapes.size(s, a, r));
        Var y = softmax(flat, log, 1).reshape(s);
        return one(c.out(y, x.batch >= a ? MIXED : x.batch));
    }

    /**
     * Softmax over the elements of {@code axes} jointly, e^(x − m) / Σ e^(x − m), or with {@code log} its logarithm
     * (x − m) − ln Σ e^(x − m), m the maximum: no e^ of a large value, and ln of a sum ≥ 1, so finite for any finite
     * x (a log of the softmax would be −∞ where it underflows). m's derivative cancels in both, so none flows
     * through it.
     */
    private static Var softmax(Var x, boolean log, int... axes) {
        // the shift carries no derivative (MoreOperators.ShiftConstant): it cancels exactly, in float32 only
        // up to rounding, which the all-ones cotangent of a pntk multiplies by the number of outputs
        Var m = x.builder().apply(MoreOperators.ShiftConstant.INSTANCE, x.reduceMax(axes));
        Var shifted = x.sub(keep(m, x.shape(), axes));
        Var e = shifted.exp();
        Var sum = keep(e.sum(axes), x.shape(), axes);
        return log ? shifted.sub(sum.log()) : e.div(sum);
    }

    /** A reduction's result reshaped to keep the reduced axes with size 1. */
    private static Var keep(Var reduced, int[] full, int[] axes) {
        int[] s = full.clone();
        for (int a : axes) {
            s[a] = 1;
        }
        return reduced.reshape(s);
    }

    private static Value[] binary(Ctx c, java.util.function.BinaryOperator<Var> f, DoubleBinaryOperator g) {
        if (c.allConst()) {
            Const a = c.constant(0, "a");
            Const b = c.constant(1, "b");
            boolean ints = !a.floating() && !b.floating();
            DoubleBinaryOperator h = ints && c.op().equals("Div") ? (u, v) -> (double) ((long) u / (long) v) : g;
            return one(staticMap(c, c.op(), a.type, v -> h.applyAsDouble(v[0], v[1])));
        }
        if (c.op().equals("Div") && (c.integer(0) || c.integer(1))) {
            throw c.error("a division of integers ('" + c.node.getInput(0) + "' / '" + c.node.getInput(1)
                    + "') truncates towards zero, which the import does not compute; cast them to a floating type "
                    + "first");
        }
        return one(elementwise(c, c.tracedArithmetic(0), c.tracedArithmetic(1), f));
    }

    /**
     * Mod, evaluated at import: the shape arithmetic that Swin's window padding leaves ({@code (w - W % w) % w}).
     * With fmod=0 (integers only, as ONNX requires) the remainder takes the divisor's sign, Python's {@code %};
     * with fmod=1 the dividend's, C's {@code fmod}. A remainder of computed values (a step function where it is
     * not the identity) is refused by {@link #staticMap}.
     */
    private static Value[] mod(Ctx c) {
        long fmod = c.attrInt("fmod", 0);
        if (fmod != 0 && fmod != 1) {
            throw c.error("fmod must be 0 or 1, got " + fmod);
        }
        if (c.allConst()) {
            Const a = c.constant(0, "A");
            Const b = c.constant(1, "B");
            if (fmod == 0 && (a.floating() || b.floating())) {
                throw c.error("fmod=0 takes integers (ONNX: a floating Mod needs fmod=1), got '"
                        + c.node.getInput(0) + "' and '" + c.node.getInput(1) + "'");
            }
            double[] divisor = b.values();
            for (int i = 0; i < divisor.length; i++) {
                if (divisor[i] == 0 && !b.floating()) {
                    throw c.error("an integer Mod by zero ('" + c.node.getInput(1) + "' at flat index " + i + ")");
                }
            }
        }
        return one(staticMap(c, "Mod", -1, v -> {
            double r = v[0] % v[1];
            return fmod == 0 && r != 0 && (r < 0) != (v[1] < 0) ? r + v[1] : r;
        }));
    }

    /** An operator of one or more inputs folded left to right with {@code f}, elementwise with broadcasting. */
    private static Value[] variadic(Ctx c, java.util.function.BinaryOperator<Var> f, DoubleBinaryOperator g) {
        if (c.inputs() == 0) {
            throw c.error("no inputs");
        }
        if (c.allConst()) {
            return one(staticMap(c, c.op(), -1, v -> {
                double r = v[0];
                for (int i = 1; i < v.length; i++) {
                    r = g.applyAsDouble(r, v[i]);
                }
                return r;
            }));
        }
        Traced r = c.tracedArithmetic(0);
        for (int i = 1; i < c.inputs(); i++) {
            r = elementwise(c, r, c.tracedArithmetic(i), f);
        }
        return one(r);
    }

    /** {@code f(a, b)} elementwise with broadcasting, in a's or b's layout where they allow it. */
    static Traced elementwise(Ctx c, Traced a, Traced b, java.util.function.BinaryOperator<Var> f) {
        if (c.views()) {
            Traced v = Views.binary(a, b, f);
            if (v != null) {
                return v;
            }
        }
        int[] perm = a.perm != null ? a.perm : b.perm;
        if (perm != null && samePhysical(a, b, perm)) {
            // both operands in the same permuted layout (a residual sum), or one of them a value of the other's
            // rank or lower that does not depend on x (a per-channel scale): compute in that layout
            Var y = f.apply(physical(a, perm), physical(b, perm));
            return new Traced(y, perm, Tracer.broadcastBatch(perm.length, a, b));
        }
        Var y = f.apply(a.var(), b.var());
        return c.out(y, Tracer.broadcastBatch(y.rank(), a, b));
    }

    /** Whether a and b can be combined elementwise in the layout {@code perm} (see {@link #physical}). */
    private static boolean samePhysical(Traced a, Traced b, int[] perm) {
        for (Traced t : new Traced[] {a, b}) {
            boolean held = t.perm != null && t.groups == null && Arrays.equals(t.perm, perm);
            boolean movable = !t.isView() && t.batch == NONE && t.rank() <= perm.length;
            if (!held && !movable) {
                return false;
            }
        }
        int[] s = Shapes.broadcast("elementwise", a.shape(), b.shape());
        return s.length == perm.length;
    }

    /** t in the layout perm: as held, or (an x-independent value) reshaped to full rank and transposed. */
    private static Var physical(Traced t, int[] perm) {
        if (t.perm != null) {
            return t.phys;
        }
        int[] s = t.shape();
        int[] full = new int[perm.length];
        Arrays.fill(full, 1);
        System.arraycopy(s, 0, full, perm.length - s.length, s.length);
        // logical = phys.transpose(perm), so phys = logical.transpose(inverse(perm))
        return t.phys.reshape(full).transpose(Shapes.inversePermutation(perm));
    }

    // ---- contractions ----

    private static Value[] matMul(Ctx c) {
        Traced a = c.traced(0);
        Traced b = c.traced(1);
        if (c.views() && (a.isView() || b.isView())) {
            Traced v = b.tBatch == NONE && b.rank() == 2 ? Views.matmulWeight(a, b.var())
                    : Views.matmulPaired(a, b);
            if (v != null) {
                return one(v);
            }
        }
        Var av = a.var();
        Var bv = b.var();
        int ra = av.rank();
        int rb = bv.rank();
        if (ra == 0 || rb == 0) {
            throw c.error("MatMul of a scalar");
        }
        boolean aVec = ra == 1;
        boolean bVec = rb == 1;
        if (aVec) {
            av = av.reshape(1, av.dim(0));
        }
        if (bVec) {
            bv = bv.reshape(bv.dim(0), 1);
        }
        int ka = av.rank();
        int kb = bv.rank();
        if (av.dim(-1) != bv.dim(-2)) {
            throw c.error("MatMul of " + Tracer.shapeText(a) + " and " + Tracer.shapeText(b)
                    + ": inner sizes differ");
        }
        Var y;
        int outRank;
        if (kb == 2) {
            // [..., M, K] x [K, N]: contract the last axis with the first, no batch axes
            y = av.dotGeneral(bv, new int[] {ka - 1}, new int[] {0}, new int[0], new int[0]);
            outRank = ka;
        } else {
            int[] ba = Arrays.copyOf(av.shape(), ka - 2);
            int[] bb = Arrays.copyOf(bv.shape(), kb - 2);
            int[] batch = Shapes.broadcast("MatMul", ba, bb);
            outRank = batch.length + 2;
            av = av.broadcastTo(Shapes.concat(batch, new int[] {av.dim(-2), av.dim(-1)}));
            bv = bv.broadcastTo(Shapes.concat(batch, new int[] {bv.dim(-2), bv.dim(-1)}));
            int[] iota = Shapes.iota(batch.length);
            y = av.dotGeneral(bv, new int[] {outRank - 1}, new int[] {outRank - 2}, iota, iota);
        }
        int batchA = operandBatch(a.batch, ra, outRank, aVec, false);
        int batchB = operandBatch(b.batch, rb, outRank, bVec, true);
        int batch = combine(batchA, batchB);
        if (aVec || bVec) {
            int[] s = y.shape();
            List<Integer> keep = new ArrayList<>();
            for (int i = 0; i < s.length; i++) {
                if (!(aVec && i == s.length - 2) && !(bVec && i == s.length - 1)) {
                    keep.add(s[i]);
                }
            }
            y = y.reshape(keep.stream().mapToInt(Integer::intValue).toArray());
            batch = batch >= 0 && batch >= y.rank() ? MIXED : batch;
        }
        return one(c.out(y, batch));
    }

    /**
     * The permutations of a convolution with d spatial axes, as ONNX's NC(spatial) layout meets ntk4j's
     * channels-last one: {toLast (NCHW → NHWC), filter ([O, I, k...] → [k..., I, O], HWIO), toFirst (NHWC → NCHW)}.
     */
    private static int[][] convLayout(int d) {
        int r = d + 2;
        int[] toLast = new int[r];
        int[] filter = new int[r];
        int[] toFirst = new int[r];
        toFirst[1] = r - 1;
        for (int i = 0; i < d; i++) {
            toLast[i + 1] = i + 2;
            filter[i] = i + 2;
            toFirst[i + 2] = i + 1;
        }
        toLast[r - 1] = 1;
        filter[d] = 1;
        filter[d + 1] = 0;
        return new int[][] {toLast, filter, toFirst};
    }
    /** Where an operand's example axis lands in a matmul result of rank {@code outRank}. */
    private static int operandBatch(int batch, int rank, int outRank, boolean vec, boolean rhs) {
        if (batch < 0) {
            return batch;
        }
        if (vec) {
            return MIXED;
        }
        int contracted = rhs ? rank - 2 : rank - 1;
        int free = rhs ? rank - 1 : rank - 2;
        if (batch == contracted) {
            return MIXED;
        }
        if (batch == free) {
            return rhs ? outRank - 1 : outRank - 2;
        }
        return batch + outRank - rank;
    }

    private static int combine(int a, int b) {
        if (a == MIXED || b == MIXED) {
            return MIXED;
        }
        if (a >= 0 && b >= 0 && a != b) {
            return MIXED;
        }
        return a >= 0 ? a : b;
    }

    private static Value[] gemm(Ctx c) {
        Traced a = c.traced(0);
        Traced b = c.traced(1);
        if (a.var().rank() != 2 || b.var().rank() != 2) {
            throw c.error("Gemm takes matrices, got " + Tracer.shapeText(a) + " and " + Tracer.shapeText(b));
        }
        boolean ta = c.attrInt("transA", 0) != 0;
        boolean tb = c.attrInt("transB", 0) != 0;
        double alpha = c.attrFloat("alpha", 1f);
        double beta = c.attrFloat("beta", 1f);
        if (c.views() && a.isView() && !ta && b.tBatch == NONE) {
            Traced v = Views.matmulWeight(a, tb ? b.var().transpose(1, 0) : b.var());
            if (v != null) {
                if (alpha != 1) {
                    v = v.withPhys(v.phys.mul(alpha), v.tBatch);
                }
                if (c.has(2)) {
                    Traced bias = c.traced(2);
                    Traced cb = beta != 1 ? new Traced(bias.var().mul(beta), bias.batch) : bias;
                    Traced sum = Views.binary(v, cb, Var::add);
                    return one(sum != null ? sum
                            : c.out(v.var().add(cb.var()), combine(v.batch, Tracer.broadcastBatch(2, cb))));
                }
                return one(v);
            }
        }
        Var y = a.var().dotGeneral(b.var(), new int[] {ta ? 0 : 1}, new int[] {tb ? 1 : 0}, new int[0], new int[0]);
        if (alpha != 1) {
            y = y.mul(alpha);
        }
        int batch = combine(a.batch < 0 ? a.batch : a.batch == (ta ? 1 : 0) ? 0 : MIXED,
                b.batch < 0 ? b.batch : b.batch == (tb ? 0 : 1) ? 1 : MIXED);
        if (c.has(2)) {
            Traced bias = c.traced(2);
            Var cv = beta != 1 ? bias.var().mul(beta) : bias.var();
            y = y.add(cv);
            batch = combine(batch, Tracer.broadcastBatch(2, bias));
        }
        return one(c.out(y, batch));
    }

    private static Value[] conv(Ctx c) {
        Traced x = c.traced(0);
        Traced w = c.traced(1);
        int r = x.var().rank();
        int d = r - 2;
        if (d < 1 || w.var().rank() != r) {
            throw c.error("Conv takes an input [N, C, spatial...] and a filter [Cout, Cin, k...] of the same rank, got "
                    + Tracer.shapeText(x) + " and " + Tracer.shapeText(w));
        }
        if (d > 2) {
            throw c.unsupported(d + " spatial axes (a " + d + "-D convolution; ntk4j's are 1-D and 2-D)");
        }
        long group = c.attrInt("group", 1);
        int cin = x.var().dim(1);
        if (group < 1 || cin % group != 0 || w.var().dim(1) * group != cin || w.var().dim(0) % group != 0) {
            throw c.error("Conv with group=" + group + " takes an input of C channels and a filter [Cout, C/group, "
                    + "k...] with Cout divisible by group, got " + Tracer.shapeText(x) + " and "
                    + Tracer.shapeText(w));
        }
        int[] strides = spatial(c, "strides", d, 1);
        int[] dilations = spatial(c, "dilations", d, 1);
        int[] xs = x.var().shape();
        int[] ws = w.var().shape();
        int[][] pads = new int[d][2];
        String auto = c.attrString("auto_pad", "NOTSET");
        long[] p = pads(c, d);
        for (int i = 0; i < d; i++) {
            int in = xs[i + 2];
            int k = (ws[i + 2] - 1) * dilations[i] + 1;
            switch (auto) {
                case "NOTSET" -> {
                    if (p != null) {
                        pads[i][0] = Math.toIntExact(p[i]);
                        pads[i][1] = Math.toIntExact(p[i + d]);
                    }
                }
                case "VALID" -> {
                    // no padding
                }
                case "SAME_UPPER", "SAME_LOWER" -> {
                    int out = (in + strides[i] - 1) / strides[i];
                    int total = Math.max((out - 1) * strides[i] + k - in, 0);
                    int small = total / 2;
                    pads[i][0] = auto.equals("SAME_UPPER") ? small : total - small;
                    pads[i][1] = total - pads[i][0];
                }
                default -> throw c.unsupported("auto_pad='" + auto + "'");
            }
        }
        // NCHW -> NHWC, OIHW -> HWIO
        int[][] layout = convLayout(d);
        int[] toLast = layout[0];
        int[] filter = layout[1];
        int[] toFirst = layout[2];
        // an input held channels-last (the output of a convolution, perhaps through elementwise operations) is used
        // as it is; the output stays channels-last, transposed to NCHW only where an operator needs the file's layout
        Var xh = x.groups == null && Arrays.equals(x.perm, toFirst) ? x.phys : x.var().transpose(toLast);
        Var y = xh.conv(w.var().transpose(filter), strides, pads, dilations, (int) group);
        Traced bias = c.has(2) ? c.traced(2) : null;
        if (bias != null) {
            y = y.add(bias.var());
        }
        int batch = x.batch == 0 || x.batch == NONE ? x.batch : MIXED;
        // a filter or a bias [C] computed from the examples (F.conv2d(x, w, b * x.mean())) mixes them
        return one(new Traced(y, toFirst, w.batch == NONE && (bias == null || bias.batch == NONE) ? batch : MIXED));
    }

    /**
     * ConvTranspose of {@code x [N, Cin, in...]} with {@code W [Cin, Cout/group, k...]}: the adjoint (input
     * gradient) of the convolution from {@code [N, Cout, out...]} to x's shape with the same strides, pads and
     * dilations, {@code out = s (in − 1) + output_padding + (k − 1) d + 1 − pads}, as PyTorch's ConvTranspose.
     * Groups are one such adjoint per group of channels, concatenated. The output is held channels-last, as Conv's.
     */
    private static Value[] convTranspose(Ctx c) {
        Traced x = c.traced(0);
        Traced w = c.traced(1);
        int r = x.var().rank();
        int d = r - 2;
        if (d < 1 || w.var().rank() != r) {
            throw c.error("ConvTranspose takes an input [N, C, spatial...] and a filter [C, Cout/group, k...] of the "
                    + "same rank, got " + Tracer.shapeText(x) + " and " + Tracer.shapeText(w));
        }
        if (d > 2) {
            throw c.unsupported(d + " spatial axes (a " + d + "-D convolution; ntk4j's are 1-D and 2-D)");
        }
        if (c.attrInts("output_shape") != null) {
            // PyTorch writes pads and output_padding; output_shape (with auto_pad) is another exporter's form
            throw c.unsupported("output_shape (give pads and output_padding)");
        }
        String auto = c.attrString("auto_pad", "NOTSET");
        if (!auto.equals("NOTSET") && !auto.equals("VALID")) {
            throw c.unsupported("auto_pad='" + auto + "' (only NOTSET with pads, or VALID)");
        }
        int group = Math.toIntExact(c.attrInt("group", 1));
        int[] xs = x.var().shape();
        int[] ws = w.var().shape();
        int cin = xs[1];
        if (group < 1 || cin % group != 0 || ws[0] != cin) {
            throw c.error("ConvTranspose with group=" + group + " takes an input of C channels, C divisible by group, "
                    + "and a filter [C, Cout/group, k...], got " + Tracer.shapeText(x) + " and "
                    + Tracer.shapeText(w));
        }
        int[] strides = spatial(c, "strides", d, 1);
        int[] dilations = spatial(c, "dilations", d, 1);
        int[] outPad = spatial(c, "output_padding", d, 0);
        long[] p = auto.equals("VALID") ? null : pads(c, d);
        int[][] pads = new int[d][2];
        int[] outSpatial = new int[d];
        for (int i = 0; i < d; i++) {
            if (p != null) {
                pads[i][0] = Math.toIntExact(p[i]);
                pads[i][1] = Math.toIntExact(p[i + d]);
            }
            if (strides[i] < 1 || dilations[i] < 1 || pads[i][0] < 0 || pads[i][1] < 0) {
                throw c.error("strides and dilations must be at least 1 and pads at least 0, got strides "
                        + Arrays.toString(strides) + ", dilations " + Arrays.toString(dilations) + ", pads "
                        + (p == null ? "none" : Arrays.toString(p)));
            }
            if (outPad[i] < 0 || outPad[i] >= strides[i]) {
                // ONNX allows output_padding below the dilation too; the extra rows are then beyond every window
                throw c.unsupported("output_padding=" + Arrays.toString(outPad) + " (only 0 <= output_padding < "
                        + "stride, strides " + Arrays.toString(strides) + ")");
            }
            outSpatial[i] = strides[i] * (xs[i + 2] - 1) + outPad[i] + (ws[i + 2] - 1) * dilations[i] + 1
                    - pads[i][0] - pads[i][1];
            if (outSpatial[i] < 1) {
                throw c.error("the output's spatial axis " + i + " would have size " + outSpatial[i] + " (pads "
                        + Arrays.toString(p) + " remove more than the transposed convolution gives)");
            }
        }
        // [Cin, Cout/g, k...] -> HWIO [k..., Cout/g, Cin] of the convolution whose adjoint this is (Conv's layout)
        int[][] layout = convLayout(d);
        int[] toLast = layout[0];
        int[] filter = layout[1];
        int[] toFirst = layout[2];
        Var xh = x.groups == null && Arrays.equals(x.perm, toFirst) ? x.phys : x.var().transpose(toLast);
        Var wv = w.var();
        Var y;
        if (group == 1) {
            y = xh.convInputGrad(wv.transpose(filter), outSpatial, strides, pads, dilations);
        } else {
            int per = cin / group;
            Var[] parts = new Var[group];
            for (int g = 0; g < group; g++) {
                Var xg = xh.sliceInDim(r - 1, g * per, (g + 1) * per, 1);
                Var wg = wv.sliceInDim(0, g * per, (g + 1) * per, 1).transpose(filter);
                parts[g] = xg.convInputGrad(wg, outSpatial, strides, pads, dilations);
            }
            y = Var.concatenate(r - 1, parts);
        }
        Traced bias = c.has(2) ? c.traced(2) : null;
        if (bias != null) {
            y = y.add(bias.var());
        }
        int batch = x.batch == 0 || x.batch == NONE ? x.batch : MIXED;
        // as Conv's: a filter or a bias computed from the examples mixes them
        return one(new Traced(y, toFirst, w.batch == NONE && (bias == null || bias.batch == NONE) ? batch : MIXED));
    }

    /**
     * The spatial attribute {@code name} (strides, dilations, output_padding) of a node over {@code n} spatial axes:
     * {@code dflt} on each where absent; refused in one line where it does not give one value per axis (a malformed
     * file, which ONNX Runtime refuses too; before 2026-12-07, a longer list was read as its first values and a
     * shorter one filled with {@code dflt}).
     */
    private static int[] spatial(Ctx c, String name, int n, int dflt) {
        long[] v = c.attrInts(name);
        if (v != null && v.length != n) {
            throw c.error(name + " must give " + n + " value" + (n == 1 ? "" : "s") + " (one per spatial axis), got "
                    + Arrays.toString(v));
        }
        return ints(v, n, dflt);
    }

    /**
     * A node's pads over {@code n} spatial axes ({begin...}, then {end...}), or null; refused in one line unless 2n
     * values (a shorter list failed with an ArrayIndexOutOfBoundsException before 2026-12-07).
     */
    private static long[] pads(Ctx c, int n) {
        long[] p = c.attrInts("pads");
        if (p != null && p.length != 2 * n) {
            throw c.error("pads must give " + 2 * n + " values (a begin and an end per spatial axis), got "
                    + Arrays.toString(p));
        }
        return p;
    }

    private static int[] ints(long[] v, int n, int dflt) {
        int[] r = new int[n];
        Arrays.fill(r, dflt);
        if (v != null) {
            for (int i = 0; i < n && i < v.length; i++) {
                r[i] = Math.toIntExact(v[i]);
            }
        }
        return r;
    }

    // ---- pooling ----

    /**
     * MaxPool and AveragePool over the spatial axes of {@code [N, C, spatial...]}: kernel_shape, strides, pads (or
     * auto_pad), ceil_mode, AveragePool's count_include_pad; dilations 1 only. A value held channels-last (a
     * convolution's output) is pooled as it is held.
     */
    private static Value[] pool(Ctx c, boolean max) {
        Traced x = c.traced(0);
        int r = x.rank();
        int d = r - 2;
        if (d < 1) {
            throw c.error(c.op() + " takes an input [N, C, spatial...], got " + Tracer.shapeText(x));
        }
        if (max && c.node.getOutputCount() > 1 && !c.node.getOutput(1).isEmpty()) {
            throw c.unsupported("the output Indices");
        }
        long[] kernel = c.attrInts("kernel_shape");
        if (kernel == null || kernel.length != d) {
            throw c.error("kernel_shape must give " + d + " sizes, got "
                    + (kernel == null ? "none" : Arrays.toString(kernel)));
        }
        int[] window = ints(kernel, d, 1);
        int[] strides = spatial(c, "strides", d, 1);
        int[] dilations = spatial(c, "dilations", d, 1);
        for (int v : dilations) {
            if (v != 1) {
                throw c.unsupported("dilations=" + Arrays.toString(dilations) + " (only 1)");
            }
        }
        long ceil = c.attrInt("ceil_mode", 0);
        if (ceil != 0 && ceil != 1) {
            throw c.error("ceil_mode must be 0 or 1, got " + ceil);
        }
        int[] xs = x.shape();
        int[] lo = new int[d];
        int[] hi = new int[d];
        int[] extra = new int[d];
        String auto = c.attrString("auto_pad", "NOTSET");
        long[] p = pads(c, d);
        for (int i = 0; i < d; i++) {
            int in = xs[i + 2];
            switch (auto) {
                case "NOTSET" -> {
                    if (p != null) {
                        lo[i] = Math.toIntExact(p[i]);
                        hi[i] = Math.toIntExact(p[i + d]);
                    }
                }
                case "VALID" -> {
                    // no padding
                }
                case "SAME_UPPER", "SAME_LOWER" -> {
                    int out = (in + strides[i] - 1) / strides[i];
                    int total = Math.max((out - 1) * strides[i] + window[i] - in, 0);
                    int small = total / 2;
                    lo[i] = auto.equals("SAME_UPPER") ? small : total - small;
                    hi[i] = total - lo[i];
                }
                default -> throw c.unsupported("auto_pad='" + auto + "'");
            }
            if (window[i] < 1 || strides[i] < 1 || lo[i] < 0 || hi[i] < 0 || lo[i] >= window[i]
                    || hi[i] >= window[i] || in + lo[i] + hi[i] < window[i]) {
                throw c.error("kernel_shape " + Arrays.toString(window) + ", strides " + Arrays.toString(strides)
                        + " and pads " + Arrays.toString(lo) + Arrays.toString(hi) + " do not fit the input "
                        + Tracer.shapeText(x) + " (each pad less than the kernel, the kernel within the padded "
                        + "input)");
            }
            if (ceil == 1) {
                extra[i] = ceilExtra(in, window[i], strides[i], lo[i], hi[i]);
            }
        }
        boolean includePad = c.attrInt("count_include_pad", 0) != 0;
        // per axis of the value as held: T axis i + 2 is phys axis perm[i + 2]. Max pooling's derivative goes to each
        // window's first maximum in the row-major order of the axes it runs over: where the value is held with its
        // spatial axes in another order (a transposed view), that order is not the file's, so it pools the value in
        // the file's layout
        boolean held = x.groups == null && (!max || spatialAxesHeldInOrder(x, d));
        Var v = held ? x.phys : x.var();
        int[] pw = new int[r];
        int[] ps = new int[r];
        int[] plo = new int[r];
        int[] phi = new int[r];
        int[] pextra = new int[r];
        Arrays.fill(pw, 1);
        Arrays.fill(ps, 1);
        for (int i = 0; i < d; i++) {
            int a = held ? x.physAxis(i + 2) : i + 2;
            pw[a] = window[i];
            ps[a] = strides[i];
            plo[a] = lo[i];
            phi[a] = hi[i] + extra[i];
            pextra[a] = extra[i];
        }
        // ceil_mode's last window reaches past the padded input: max pooling pads it with −∞ like the file's pads,
        // average pooling counts none of it (extra)
        Var y = max ? v.reduceWindowMax(pw, ps, plo, phi) : avgPool(v, pw, ps, plo, phi, pextra, includePad);
        if (held) {
            return one(x.withPhys(y, x.tBatch));
        }
        return one(c.out(y, x.batch >= 2 ? MIXED : x.batch));
    }

    /** Whether the value holds the spatial axes 2 .. d + 1 in their order (each further along than the last). */
    private static boolean spatialAxesHeldInOrder(Traced x, int d) {
        for (int i = 1; i < d; i++) {
            if (x.physAxis(i + 2) < x.physAxis(i + 1)) {
                return false;
            }
        }
        return true;
    }

    /**
     * ceil_mode=1 on one axis: how far the last window reaches past the padded input. The output has
     * ceil((in + lo + hi − k) / s) + 1 windows, less the last one where it would start past the input and its
     * left padding (PyTorch's rule, which ONNX Runtime follows); 0 where that is floor mode's count.
     */
    private static int ceilExtra(int in, int window, int stride, int lo, int hi) {
        int span = in + lo + hi - window;
        int out = (span + stride - 1) / stride + 1;
        if ((out - 1) * stride >= in + lo) {
            out--;
        }
        return Math.max((out - 1) * stride - span, 0);
    }

    /**
     * Average pooling on every axis of {@code v}: the sum of the window's elements over its zero-padded input
     * ({@code hi} includes ceil mode's {@code extra}), divided by the number of its elements inside the padded
     * input without {@code extra} ({@code includePad}) or inside the input. PyTorch's divisor: ceil mode's last
     * window counts none of what lies past the padding, even with count_include_pad.
     */
    private static Var avgPool(Var v, int[] window, int[] strides, int[] lo, int[] hi, int[] extra,
            boolean includePad) {
        int rank = v.rank();
        int[] in = v.shape();
        int[] out = new int[rank];
        int count = 1;
        for (int i = 0; i < rank; i++) {
            out[i] = (in[i] + lo[i] + hi[i] - window[i]) / strides[i] + 1;
            count *= window[i];
        }
        Var padded = v.pad(lo, hi);
        Var sum = null;
        for (int off = 0; off < count; off++) {
            int[] start = new int[rank];
            int[] limit = new int[rank];
            int rem = off;
            for (int i = rank - 1; i >= 0; i--) {
                start[i] = rem % window[i];
                rem /= window[i];
                limit[i] = start[i] + (out[i] - 1) * strides[i] + 1;
            }
            Var s = padded.slice(start, limit, strides);
            sum = sum == null ? s : sum.add(s);
        }
        // the counted range of each axis, in input coordinates: [first, last)
        int[] first = new int[rank];
        int[] last = new int[rank];
        boolean whole = true;
        for (int i = 0; i < rank; i++) {
            first[i] = includePad ? -lo[i] : 0;
            last[i] = includePad ? in[i] + hi[i] - extra[i] : in[i];
            whole &= first[i] == -lo[i] && last[i] == in[i] + hi[i];
        }
        if (whole) {
            return sum.mul(1.0 / count);
        }
        // 1 / (counted elements in each window), per position on the pooled axes, broadcast over the others
        int[] shape = new int[rank];
        for (int i = 0; i < rank; i++) {
            shape[i] = window[i] > 1 || strides[i] > 1 || lo[i] > 0 || hi[i] > 0 ? out[i] : 1;
        }
        int cells = Shapes.size(shape);
        double[] inv = new double[cells];
        for (int q = 0; q < cells; q++) {
            int rem = q;
            int covered = 1;
            for (int i = rank - 1; i >= 0; i--) {
                int o = rem % shape[i];
                rem /= shape[i];
                int start = o * strides[i] - lo[i];
                covered *= Math.min(start + window[i], last[i]) - Math.max(start, first[i]);
            }
            inv[q] = 1.0 / covered;
        }
        return sum.mul(v.builder().constant(org.ntk4j.tensor.Tensor.of(v.dtype(), inv, shape)));
    }

    // ---- reductions and normalisation ----

    /**
     * BatchNormalization in inference form: {@code (x - mean) / sqrt(var + epsilon) * scale + B} per channel (axis
     * 1). scale and B are parameters; the running mean and variance are constants; training_mode=1 is refused.
     */
    private static Value[] batchNorm(Ctx c) {
        long training = c.attrInt("training_mode", 0);
        if (training != 0) {
            throw c.unsupported("training_mode=" + training + " (inference only: export the model in eval() mode)");
        }
        if (c.attrInt("spatial", 1) != 1) {
            throw c.unsupported("spatial=0");
        }
        for (int i = 1; i < c.node.getOutputCount(); i++) {
            if (!c.node.getOutput(i).isEmpty()) {
                throw c.unsupported("the training outputs (running mean and variance)");
            }
        }
        Traced x = c.traced(0);
        int r = x.rank();
        if (r < 2) {
            throw c.error("BatchNormalization takes an input [N, C, ...], got " + Tracer.shapeText(x));
        }
        int ch = x.shape()[1];
        int[] cs = new int[r - 1];
        Arrays.fill(cs, 1);
        cs[0] = ch;
        String[] what = {"", "scale", "B", "input_mean", "input_var"};
        Var[] v = new Var[5];
        for (int i = 1; i <= 4; i++) {
            Traced t = i <= 2 ? c.traced(i) : c.tracedConstant(i);
            if (t.rank() != 1 || t.shape()[0] != ch) {
                throw c.error(what[i] + " must have shape [" + ch + "] (the input's channels), got "
                        + Shapes.str(t.shape()));
            }
            v[i] = t.var().reshape(cs);
        }
        double eps = c.attrFloat("epsilon", 1e-5f);
        Var sd = v[4].add(eps).sqrt();
        Traced y = elementwise(c, x, new Traced(v[3], NONE), Var::sub);
        y = elementwise(c, y, new Traced(sd, NONE), Var::div);
        y = elementwise(c, y, new Traced(v[1], NONE), Var::mul);
        y = elementwise(c, y, new Traced(v[2], NONE), Var::add);
        return one(y);
    }


    private static Value[] globalAveragePool(Ctx c) {
        Traced x = c.traced(0);
        int r = x.var().rank();
        int[] axes = new int[r - 2];
        for (int i = 0; i < axes.length; i++) {
            axes[i] = i + 2;
        }
        Var y = keep(x.var().mean(axes), x.var().shape(), axes);
        return one(c.out(y, x.batch >= 2 ? MIXED : x.batch));
    }

    /** One max-pooling window over every spatial axis of [N, C, spatial...], of the value in its logical layout. */
    private static Value[] globalMaxPool(Ctx c) {
        Traced x = c.traced(0);
        int r = x.rank();
        if (r < 3) {
            throw c.error("GlobalMaxPool takes an input [N, C, spatial...], got " + Tracer.shapeText(x));
        }
        Var v = x.var();
        int[] window = v.shape().clone();
        window[0] = 1;
        window[1] = 1;
        int[] ones = new int[r];
        Arrays.fill(ones, 1);
        Var y = v.reduceWindowMax(window, ones, new int[r], new int[r]);
        return one(c.out(y, x.batch >= 2 ? MIXED : x.batch));
    }

    /** A reduction of the value as held, on the physical axes under the reduced ones. */
    private interface Reduction {
        Var apply(Var x, int[] axes);
    }

    private static Value[] reduce(Ctx c, Reduction f, int axesInputFrom) {
        if (c.op().equals("ReduceMean") && c.integer(0)) {
            // ONNX's mean of an integer type is of that type: the sum divided by the count, truncated (ONNX Runtime)
            throw c.error("a mean of integers ('" + c.node.getInput(0) + "') is an integer in ONNX, the sum divided "
                    + "by the count and truncated towards zero, which the import does not compute; cast them to a "
                    + "floating type first");
        }
        Traced x = c.traced(0);
        int r = x.rank();
        long[] axesIn;
        boolean axesAsInput = c.opset() >= axesInputFrom;
        if (axesAsInput) {
            axesIn = c.has(1) ? c.constant(1, "axes").longs() : null;
        } else {
            axesIn = c.attrInts("axes");
        }
        boolean keepDims = c.attrInt("keepdims", 1) != 0;
        if (axesIn == null || axesIn.length == 0) {
            if (c.attrInt("noop_with_empty_axes", 0) != 0) {
                return one(x);
            }
            axesIn = new long[r];
            for (int i = 0; i < r; i++) {
                axesIn[i] = i;
            }
        }
        int[] axes = sortedAxes(c, axesIn, r);
        if (c.views() && x.isView()) {
            int[] pa = Views.physAxesUnder(x, axes);
            Var red = f.apply(x.phys, pa);
            Traced kept = x.withPhys(keep(red, x.phys.shape(), pa), Views.batchUnder(x, axes) ? MIXED : x.tBatch);
            if (keepDims) {
                return one(kept);
            }
            int[] out = x.shape();
            List<Integer> squeezed = new ArrayList<>();
            for (int i = 0; i < r; i++) {
                if (!Shapes.contains(axes, i)) {
                    squeezed.add(out[i]);
                }
            }
            return one(reshapeTo(c, kept, squeezed.stream().mapToInt(Integer::intValue).toArray()));
        }
        Var y = f.apply(x.var(), axes);
        int batch;
        if (keepDims) {
            y = keep(y, x.var().shape(), axes);
            batch = x.batch >= 0 && Shapes.contains(axes, x.batch) ? MIXED : x.batch;
        } else {
            batch = Tracer.removeAxesBatch(x.batch, axes);
        }
        return one(c.out(y, batch));
    }

    /**
     * ReduceProd of a constant (torch.var's element count: the product of gathered dimensions of a Shape), with the
     * attributes and axes input of {@link #reduce}.
     */
    private static Const staticProduct(Ctx c) {
        Const k = c.constant(0, "data");
        int[] s = k.shape;
        long[] axesIn = c.opset() >= 18 ? (c.has(1) ? c.constant(1, "axes").longs() : null) : c.attrInts("axes");
        boolean keepDims = c.attrInt("keepdims", 1) != 0;
        if (axesIn == null || axesIn.length == 0) {
            if (c.attrInt("noop_with_empty_axes", 0) != 0) {
                return k;
            }
            axesIn = new long[s.length];
            for (int i = 0; i < s.length; i++) {
                axesIn[i] = i;
            }
        }
        int[] axes = sortedAxes(c, axesIn, s.length);
        int[] kept = s.clone();
        List<Integer> dropped = new ArrayList<>();
        for (int i = 0; i < s.length; i++) {
            if (Shapes.contains(axes, i)) {
                kept[i] = 1;
            } else {
                dropped.add(s[i]);
            }
        }
        double[] r = new double[Shapes.size(kept)];
        Arrays.fill(r, 1.0);
        double[] v = k.values();
        int[] keptStrides = Shapes.strides(kept);
        for (int f = 0; f < v.length; f++) {
            int rem = f;
            int at = 0;
            for (int i = s.length - 1; i >= 0; i--) {
                int idx = rem % s[i];
                rem /= s[i];
                at += kept[i] == 1 ? 0 : idx * keptStrides[i];
            }
            r[at] *= v[f];
        }
        return new Const(k.type, keepDims ? kept : dropped.stream().mapToInt(Integer::intValue).toArray(), r);
    }

    /**
     * √(Σ v²) over {@code axes}, with PyTorch's derivative 0 where the norm is 0 (F.normalize of a zero vector, a
     * ReLU's output all zero): √s alone has the derivative 2v·dv / (2√s) = 0/0 = NaN there. Computed as √(s + z) −
     * z with z = [s = 0] (no derivative): the same values, the derivative 0 where s = 0.
     */
    private static Var l2Norm(Var v, int[] axes) {
        Var s = v.mul(v).sum(axes);
        Var z = s.greater(0).neg().add(1);
        return s.add(z).sqrt().sub(z);
    }

    private static int[] sortedAxes(Ctx c, long[] axes, int rank) {
        int[] r = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            r[i] = c.axis(axes[i], rank);
        }
        Arrays.sort(r);
        for (int i = 1; i < r.length; i++) {
            if (r[i] == r[i - 1]) {
                throw c.error("axis " + r[i] + " is given twice");
            }
        }
        return r;
    }

    /**
     * InstanceNormalization of {@code [N, C, spatial...]}: each example's channel normalised over its spatial axes,
     * {@code (x − mean) / sqrt(var + epsilon) · scale + B} with the biased variance, scale and B per channel.
     */
    private static Value[] instanceNorm(Ctx c) {
        Traced x = c.traced(0);
        int r = x.rank();
        if (r < 3) {
            throw c.error("InstanceNormalization takes an input [N, C, spatial...], got " + Tracer.shapeText(x));
        }
        int ch = x.shape()[1];
        int[] cs = new int[r - 1];
        Arrays.fill(cs, 1);
        cs[0] = ch;
        Traced[] affine = new Traced[2];
        for (int i = 1; i <= 2; i++) {
            Traced t = c.traced(i);
            if (t.rank() != 1 || t.shape()[0] != ch) {
                throw c.error((i == 1 ? "scale" : "B") + " must have shape [" + ch + "] (the input's channels), got "
                        + Shapes.str(t.shape()));
            }
            if (t.batch != NONE) {
                throw c.error((i == 1 ? "scale" : "B") + " must not depend on the input x");
            }
            affine[i - 1] = new Traced(t.var().reshape(cs), NONE);
        }
        double eps = c.attrFloat("epsilon", 1e-5f);
        int[] axes = new int[r - 2];
        for (int i = 0; i < axes.length; i++) {
            axes[i] = i + 2;
        }
        Traced y;
        if (c.views() && x.isView()) {
            // a convolution's channels-last output, normalised as held
            int[] pa = Views.physAxesUnder(x, axes);
            int[] ps = x.phys.shape();
            Var centred = x.phys.sub(keep(x.phys.mean(pa), ps, pa));
            Var var = keep(centred.mul(centred).mean(pa), ps, pa);
            y = x.withPhys(centred.div(var.add(eps).sqrt()), Views.batchUnder(x, axes) ? MIXED : x.tBatch);
        } else {
            int[] s = x.var().shape();
            Var centred = x.var().sub(keep(x.var().mean(axes), s, axes));
            Var var = keep(centred.mul(centred).mean(axes), s, axes);
            y = c.out(centred.div(var.add(eps).sqrt()), x.batch >= 2 ? MIXED : x.batch);
        }
        y = elementwise(c, y, affine[0], Var::mul);
        return one(elementwise(c, y, affine[1], Var::add));
    }

    private static Value[] layerNorm(Ctx c) {
        Traced x = c.traced(0);
        int r = x.rank();
        int from = c.axis(c.attrInt("axis", -1), r);
        double eps = c.attrFloat("epsilon", 1e-5f);
        int[] axes = new int[r - from];
        for (int i = 0; i < axes.length; i++) {
            axes[i] = from + i;
        }
        if (c.views() && x.isView()) {
            int[] pa = Views.physAxesUnder(x, axes);
            int[] ps = x.phys.shape();
            Var centred = x.phys.sub(keep(x.phys.mean(pa), ps, pa));
            Var var = keep(centred.mul(centred).mean(pa), ps, pa);
            Traced y = x.withPhys(centred.div(var.add(eps).sqrt()), Views.batchUnder(x, axes) ? MIXED : x.tBatch);
            Traced scaled = Views.binary(y, c.traced(1), Var::mul);
            Traced out = scaled == null || !c.has(2) ? scaled : Views.binary(scaled, c.traced(2), Var::add);
            if (out != null) {
                return one(out);
            }
            Var yv = y.var().mul(c.traced(1).var());
            if (c.has(2)) {
                yv = yv.add(c.traced(2).var());
            }
            return one(c.out(yv, combine(y.batch, combine(Tracer.broadcastBatch(r, c.traced(1)),
                    c.has(2) ? Tracer.broadcastBatch(r, c.traced(2)) : NONE))));
        }
        int[] s = x.var().shape();
        Var centred = x.var().sub(keep(x.var().mean(axes), s, axes));
        Var var = keep(centred.mul(centred).mean(axes), s, axes);
        Var y = centred.div(var.add(eps).sqrt());
        Traced scale = c.traced(1);
        y = y.mul(scale.var());
        int batch = x.batch >= from ? MIXED : x.batch;
        batch = combine(batch, Tracer.broadcastBatch(r, scale));
        if (c.has(2)) {
            Traced bias = c.traced(2);
            y = y.add(bias.var());
            batch = combine(batch, Tracer.broadcastBatch(r, bias));
        }
        return one(c.out(y, batch));
    }

    // ---- shapes ----

    private static Value reshapeTo(Ctx c, Value v, int[] shape) {
        if (v instanceof Const k && !k.weightCandidate()) {
            return new Const(k.type, shape, k.values());
        }
        Traced t = v instanceof Traced tr ? tr : c.traced(0);
        if (Shapes.size(shape) != Shapes.size(t.shape())) {
            throw c.error("cannot reshape " + Tracer.shapeText(t) + " to " + Shapes.str(shape));
        }
        if (c.views()) {
            Traced view = Views.reshape(t, shape);
            if (view != null) {
                return view;
            }
        }
        return c.out(t.var().reshape(shape), Tracer.reshapeBatch(t.batch, t.var().shape(), shape));
    }

    private static Value[] flatten(Ctx c) {
        int[] s = c.shapeOf(0);
        int a = c.attrInt("axis", 1) == s.length ? s.length : c.axis(c.attrInt("axis", 1), s.length);
        return one(reshapeTo(c, c.in(0), new int[] {Shapes.size(s, 0, a), Shapes.size(s, a, s.length)}));
    }

    private static Value[] reshape(Ctx c) {
        int[] in = c.shapeOf(0);
        long[] target = c.constant(1, "shape").longs();
        boolean allowZero = c.attrInt("allowzero", 0) != 0;
        int[] s = new int[target.length];
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (target[i] == 0 && !allowZero) {
                if (i >= in.length) {
                    throw c.error("shape " + Tracer.str(target) + " copies axis " + i + " of "
                            + Tracer.shapeText(c.in(0)));
                }
                s[i] = in[i];
            } else if (target[i] == -1) {
                infer = i;
                continue;
            } else {
                s[i] = Math.toIntExact(target[i]);
            }
            known *= s[i];
        }
        if (infer >= 0) {
            s[infer] = known == 0 ? 0 : (int) (Shapes.size(in) / known);
        }
        if (Shapes.size(s) != Shapes.size(in) || (infer >= 0 && known != 0 && Shapes.size(in) % known != 0)) {
            // a batch size written into the target (a fixed-batch export) gets the tracer's hint, with the
            // file's own input and output names
            throw c.error("cannot reshape " + Tracer.shapeText(c.in(0)) + " to " + Tracer.str(target)
                    + c.constantBatchHint(1, target.length > 0 ? target[0] : 0));
        }
        return one(reshapeTo(c, c.in(0), s));
    }

    private static Value[] transpose(Ctx c) {
        int r = c.shapeOf(0).length;
        long[] p = c.attrInts("perm");
        int[] perm = new int[r];
        for (int i = 0; i < r; i++) {
            perm[i] = p == null ? r - 1 - i : c.axis(p[i], r);
        }
        if (!Shapes.isPermutation(perm, r)) {
            throw c.error("perm " + Arrays.toString(perm) + " is not a permutation of " + r + " axes");
        }
        if (c.in(0) instanceof Const k && !k.weightCandidate()) {
            int[] out = Shapes.permute(k.shape, perm);
            int[] inStrides = Shapes.strides(k.shape);
            double[] src = k.values();
            double[] v = new double[src.length];
            for (int f = 0; f < v.length; f++) {
                int rem = f;
                int off = 0;
                for (int i = r - 1; i >= 0; i--) {
                    off += (rem % out[i]) * inStrides[perm[i]];
                    rem /= out[i];
                }
                v[f] = src[off];
            }
            return one(new Const(k.type, out, v));
        }
        Traced x = c.traced(0);
        if (c.views()) {
            return one(Views.transpose(x, perm));
        }
        int batch = x.batch;
        if (batch >= 0) {
            for (int i = 0; i < r; i++) {
                if (perm[i] == x.batch) {
                    batch = i;
                }
            }
        }
        return one(c.out(x.var().transpose(perm), batch));
    }

    private static Value[] concat(Ctx c) {
        int n = c.inputs();
        if (c.allConst()) {
            List<Const> parts = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                parts.add(c.constant(i, "part"));
            }
            int r = parts.get(0).shape.length;
            int a = c.axis(c.attrInt("axis", 0), Math.max(r, 1));
            return one(staticConcat(c, parts, a));
        }
        Var[] parts = new Var[n];
        Traced[] ts = new Traced[n];
        for (int i = 0; i < n; i++) {
            ts[i] = c.traced(i);
            parts[i] = ts[i].var();
        }
        int a = c.axis(c.attrInt("axis", 0), parts[0].rank());
        if (c.views() && sameTranspose(ts)) {
            // parts transposed alike (a stacked RNN's final states [layers·dirs, N, H], held [N, ...]): joined as
            // held, along the axis under a, so that the examples stay first
            Var[] held = new Var[n];
            for (int i = 0; i < n; i++) {
                held[i] = ts[i].phys;
            }
            int tb = ts[0].tBatch;
            return one(new Traced(Var.concatenate(ts[0].perm[a], held), ts[0].perm, tb == a ? MIXED : tb));
        }
        int batch = Tracer.broadcastBatch(parts[0].rank(), ts);
        return one(c.out(Var.concatenate(a, parts), batch == a ? MIXED : batch));
    }

    /** Whether every part is held transposed by the same permutation (no merged axes) with the same example axis. */
    private static boolean sameTranspose(Traced[] ts) {
        for (Traced t : ts) {
            if (t.perm == null || t.groups != null || !Arrays.equals(t.perm, ts[0].perm) || t.tBatch != ts[0].tBatch
                    || t.tBatch < 0) {
                return false;
            }
        }
        return true;
    }

    private static Const staticConcat(Ctx c, List<Const> parts, int axis) {
        int[] s = parts.get(0).shape.clone();
        int total = 0;
        for (Const p : parts) {
            if (p.shape.length != s.length) {
                throw c.error("Concat of ranks " + s.length + " and " + p.shape.length);
            }
            total += p.shape[axis];
        }
        s[axis] = total;
        int outer = Shapes.size(s, 0, axis);
        int inner = Shapes.size(s, axis + 1, s.length);
        double[] v = new double[Shapes.size(s)];
        int pos = 0;
        for (int o = 0; o < outer; o++) {
            for (Const p : parts) {
                int len = p.shape[axis] * inner;
                System.arraycopy(p.values(), o * len, v, pos, len);
                pos += len;
            }
        }
        return new Const(parts.get(0).type, s, v);
    }

    /**
     * Pad: pads {@code [begin..., end...]} per axis (negative amounts crop), from input 1 (opset 11 on), on the axes
     * of input 3 (opset 18) or all; a value held as a view is padded as held. The modes:
     * <ul>
     *   <li>{@code constant} (PyTorch's average pooling, {@code F.pad}, {@code nn.ConstantPad1d/2d}): zeros, plus,
     *       for a value v other than 0 (input 2, known at import), a constant holding v on the border and 0 inside,
     *       so that x's elements are copied exactly and the border has no derivative;</li>
     *   <li>{@code reflect} ({@code nn.ReflectionPad1d/2d}): per axis, the p elements after the first, reversed, in
     *       front and the p before the last, reversed, behind ({@code rev} of a slice), at most size − 1 (PyTorch's
     *       limit);</li>
     *   <li>{@code edge} ({@code nn.ReplicationPad1d/2d}): the first and the last element repeated (a slice of one
     *       element broadcast along the axis).</li>
     * </ul>
     * Reflect and edge pad one axis after another (the corners reflect or repeat the padded edges, as NumPy, ONNX
     * and PyTorch), from the whole axis, and then crop where an amount is negative, as PyTorch computes a reflection
     * with a negative amount on the other end. Each padded axis costs two slices (and reversals, or broadcasts) and
     * a concatenation: every kernel method has their rules. {@code wrap} (opset 19) is refused.
     */
    private static Value[] pad(Ctx c) {
        String mode = c.attrString("mode", "constant");
        boolean reflect = mode.equals("reflect");
        if (!mode.equals("constant") && !reflect && !mode.equals("edge")) {
            throw c.unsupported("mode='" + mode + "' (only 'constant', 'reflect' and 'edge')");
        }
        // ONNX reads constant_value in constant mode only
        double value = c.has(2) && mode.equals("constant") ? scalar(c, 2, "constant_value") : 0;
        Traced x = c.traced(0);
        int r = x.rank();
        long[] given = c.constant(1, "pads").longs();
        int[] axes = new int[r];
        if (c.has(3)) {
            long[] a = c.constant(3, "axes").longs();
            axes = new int[a.length];
            for (int i = 0; i < a.length; i++) {
                axes[i] = c.axis(a[i], r);
            }
        } else {
            for (int i = 0; i < r; i++) {
                axes[i] = i;
            }
        }
        if (given.length != 2 * axes.length) {
            throw c.error("pads has " + given.length + " entries; expected " + 2 * axes.length + " (a begin and an "
                    + "end for each of " + axes.length + " axes)");
        }
        int[] lo = new int[r];
        int[] hi = new int[r];
        for (int i = 0; i < axes.length; i++) {
            lo[axes[i]] += Math.toIntExact(given[i]);
            hi[axes[i]] += Math.toIntExact(given[i + axes.length]);
        }
        if (x.batch >= 0 && (lo[x.batch] != 0 || hi[x.batch] != 0)) {
            throw c.error("pads the example axis " + x.batch + " (" + lo[x.batch] + " before, " + hi[x.batch]
                    + " after); ntk4j computes on the examples given");
        }
        if (!mode.equals("constant")) {
            checkBorderPads(c, mode, x.shape(), lo, hi);
        }
        boolean held = x.isView() && x.groups == null;
        Var v = held ? x.phys : x.var();
        int[] plo = lo;
        int[] phi = hi;
        int batch = x.batch;
        if (held) {
            // pad the axes as held: logical axis t is axis perm[t] of phys
            plo = new int[r];
            phi = new int[r];
            for (int t = 0; t < r; t++) {
                plo[x.physAxis(t)] = lo[t];
                phi[x.physAxis(t)] = hi[t];
            }
            batch = x.tBatch < 0 ? x.tBatch : x.physAxis(x.tBatch);
        }
        Var y = mode.equals("constant") ? padConstant(v, plo, phi, value, batch) : padBorder(v, plo, phi, reflect);
        return one(held ? x.withPhys(y, x.tBatch) : c.out(y, x.batch));
    }

    /** Refuses reflect and edge pads that the axis cannot give: a reflection of size or more, an empty axis. */
    private static void checkBorderPads(Ctx c, String mode, int[] shape, int[] lo, int[] hi) {
        for (int a = 0; a < shape.length; a++) {
            int most = Math.max(lo[a], hi[a]);
            if (most <= 0) {
                continue;
            }
            if (shape[a] == 0) {
                throw c.error("mode='" + mode + "' pads axis " + a + ", which is empty (" + lo[a] + " before, "
                        + hi[a] + " after); there is no element to " + (mode.equals("edge") ? "repeat" : "reflect"));
            }
            if (mode.equals("reflect") && most >= shape[a]) {
                throw c.error("mode='reflect' pads axis " + a + " of size " + shape[a] + " by " + most + " ("
                        + lo[a] + " before, " + hi[a] + " after); a reflection adds at most size - 1 = "
                        + (shape[a] - 1) + " elements on each side");
            }
        }
    }

    /**
     * Zero padding of {@code v} (negative amounts crop) plus {@code value} on the border: a constant of the padded
     * shape (size 1 on the example axis {@code batch}, if any, broadcast over the examples).
     */
    private static Var padConstant(Var v, int[] lo, int[] hi, double value, int batch) {
        Var y = v.pad(lo, hi);
        if (value == 0 || Arrays.stream(lo).allMatch(p -> p <= 0) && Arrays.stream(hi).allMatch(p -> p <= 0)) {
            return y; // no border: zeros, or crops only
        }
        int[] in = v.shape();
        int[] out = y.shape();
        int[] shape = out.clone();
        if (batch >= 0) {
            shape[batch] = 1;
        }
        double[] border = new double[Shapes.size(shape)];
        int[] idx = new int[shape.length];
        for (int f = 0; f < border.length; f++) {
            int rem = f;
            boolean inside = true;
            for (int a = shape.length - 1; a >= 0; a--) {
                idx[a] = rem % shape[a];
                rem /= shape[a];
                // padded index i holds operand index i - lo; an axis of the examples is never padded
                inside &= a == batch || (idx[a] - lo[a] >= 0 && idx[a] - lo[a] < in[a]);
            }
            border[f] = inside ? 0 : value;
        }
        return y.add(v.builder().constant(Tensor.of(v.dtype(), border, shape)));
    }

    /**
     * Reflect ({@code reflect}) or edge padding of {@code v}, axis by axis from the whole axis; then the negative
     * amounts crop.
     */
    private static Var padBorder(Var v, int[] lo, int[] hi, boolean reflect) {
        Var y = v;
        int r = v.rank();
        for (int a = 0; a < r; a++) {
            int before = Math.max(lo[a], 0);
            int after = Math.max(hi[a], 0);
            if (before == 0 && after == 0) {
                continue;
            }
            int n = y.dim(a);
            List<Var> parts = new ArrayList<>();
            if (before > 0) {
                parts.add(reflect ? y.sliceInDim(a, 1, before + 1, 1).rev(a) : repeat(y.sliceInDim(a, 0, 1, 1), a,
                        before));
            }
            parts.add(y);
            if (after > 0) {
                parts.add(reflect ? y.sliceInDim(a, n - 1 - after, n - 1, 1).rev(a)
                        : repeat(y.sliceInDim(a, n - 1, n, 1), a, after));
            }
            y = Var.concatenate(a, parts.toArray(Var[]::new));
        }
        int[] cropLo = new int[r];
        int[] cropHi = new int[r];
        for (int a = 0; a < r; a++) {
            cropLo[a] = Math.min(lo[a], 0);
            cropHi[a] = Math.min(hi[a], 0);
        }
        return y.pad(cropLo, cropHi);
    }

    /** {@code v}, of size 1 on axis {@code a}, repeated {@code times} times along it. */
    private static Var repeat(Var v, int a, int times) {
        int[] shape = v.shape();
        shape[a] = times;
        return v.broadcastInDim(shape, Shapes.iota(shape.length));
    }

    private static Value[] slice(Ctx c) {
        int[] s = c.shapeOf(0);
        int r = s.length;
        long[] starts;
        long[] ends;
        long[] axes = null;
        long[] steps = null;
        if (c.opset() < 10) {
            starts = c.attrInts("starts");
            ends = c.attrInts("ends");
            axes = c.attrInts("axes");
        } else {
            starts = c.constant(1, "starts").longs();
            ends = c.constant(2, "ends").longs();
            if (c.has(3)) {
                axes = c.constant(3, "axes").longs();
            }
            if (c.has(4)) {
                steps = c.constant(4, "steps").longs();
            }
        }
        if (steps != null && Arrays.stream(steps).anyMatch(st -> st < 0)
                && c.in(0) instanceof Const k && !k.weightCandidate()) {
            // PyTorch's F.pad reverses its pads this way, on values known at import
            return one(staticSliceBackwards(c, k, starts, ends, axes, steps));
        }
        // a negative step (torch.flip: starts -1, ends INT64_MIN + 1, steps -1) takes the same elements as a positive
        // one from the last element taken up, reversed: a slice and the primitive rev, one strided copy each whatever
        // the axis's size (a 224-wide flip written as slices and a concatenation would be 224 equations in every
        // pass)
        int[] start = new int[r];
        int[] limit = s.clone();
        int[] stride = new int[r];
        boolean[] reversed = new boolean[r];
        Arrays.fill(stride, 1);
        for (int i = 0; i < starts.length; i++) {
            int a = axes == null ? i : c.axis(axes[i], r);
            long step = steps == null ? 1 : steps[i];
            if (step == 0) {
                throw c.error("step 0 is not allowed (a slice's steps are not 0)");
            }
            long dim = s[a];
            long b = starts[i] < 0 ? starts[i] + dim : starts[i];
            long e = ends[i] < 0 ? ends[i] + dim : ends[i];
            // |step|, with -2^63's taken as 2^63 - 1: either takes one element, as no axis is that long
            long k = step == Long.MIN_VALUE ? Long.MAX_VALUE : Math.abs(step);
            if (step > 0) {
                b = Math.max(0, Math.min(b, dim));
                e = Math.max(b, Math.min(e, dim));
            } else {
                // ONNX: from b, clamped to [0, dim - 1], down to above e, clamped to [-1, dim - 1]; an empty axis
                // has no index to start from (NumPy's x[::-1] of it is empty)
                b = Math.max(0, Math.min(b, dim - 1));
                e = Math.max(-1, Math.min(e, dim - 1));
                long taken = dim > 0 && b > e ? 1 + (b - e - 1) / k : 0; // no overflow for any k
                reversed[a] = taken > 1;
                e = taken == 0 ? 0 : b + 1;
                b = taken == 0 ? 0 : b - (taken - 1) * k;
            }
            start[a] = (int) b;
            limit[a] = (int) e;
            // a step past the axis takes one element, as a step of the axis's size does (and keeps the int strides
            // of the derivatives' pads small)
            stride[a] = (int) Math.min(k, Math.max(dim, 1));
        }
        Value v = c.in(0);
        if (v instanceof Const k && !k.weightCandidate()) {
            return one(staticSlice(k, start, limit, stride));
        }
        int[] rev = java.util.stream.IntStream.range(0, r).filter(a -> reversed[a]).toArray();
        Traced x = c.traced(0);
        if (c.views() && x.isView()) {
            int[] all = Shapes.iota(r);
            int[] pa = Views.singlePhysAxes(x, all);
            if (pa != null) {
                int pr = x.phys.rank();
                int[] ps = new int[pr];
                int[] pl = x.phys.shape();
                int[] pst = new int[pr];
                Arrays.fill(pst, 1);
                boolean cutsBatch = false;
                int[] prev = new int[rev.length];
                for (int i = 0; i < r; i++) {
                    ps[pa[i]] = start[i];
                    pl[pa[i]] = limit[i];
                    pst[pa[i]] = stride[i];
                    cutsBatch |= i == x.batch && (start[i] != 0 || limit[i] != s[i] || stride[i] != 1
                            || reversed[i]);
                }
                for (int i = 0; i < rev.length; i++) {
                    prev[i] = pa[rev[i]];
                }
                return one(x.withPhys(x.phys.slice(ps, pl, pst).rev(prev), cutsBatch ? MIXED : x.tBatch));
            }
        }
        int batch = x.batch;
        // examples cut or reordered (a flip of the batch) mix: example n's output is another example's
        if (batch >= 0 && (start[batch] != 0 || limit[batch] != s[batch] || stride[batch] != 1 || reversed[batch])) {
            batch = MIXED;
        }
        return one(c.out(x.var().slice(start, limit, stride).rev(rev), batch));
    }

    /**
     * A slice with any steps (ONNX's rules: a negative step walks from start, clamped to [0, dim - 1], down to
     * above end, clamped to [-1, dim - 1]) of a value known at import.
     */
    private static Const staticSliceBackwards(Ctx c, Const k, long[] starts, long[] ends, long[] axes, long[] steps) {
        int r = k.shape.length;
        int[][] picks = new int[r][];
        for (int a = 0; a < r; a++) {
            picks[a] = Shapes.iota(k.shape[a]);
        }
        for (int i = 0; i < starts.length; i++) {
            int a = axes == null ? i : c.axis(axes[i], r);
            long step = steps[i];
            if (step == 0) {
                throw c.error("step 0 is not allowed (a slice's steps are not 0)");
            }
            long dim = k.shape[a];
            long b = starts[i] < 0 ? starts[i] + dim : starts[i];
            long e = ends[i] < 0 ? ends[i] + dim : ends[i];
            long stride = step == Long.MIN_VALUE ? Long.MAX_VALUE : Math.abs(step);
            long taken;
            if (step > 0) {
                b = Math.max(0, Math.min(b, dim));
                e = Math.max(0, Math.min(e, dim));
                taken = b < e ? 1 + (e - b - 1) / stride : 0;
            } else {
                // an empty axis has no index to start from
                b = Math.max(0, Math.min(b, dim - 1));
                e = Math.max(-1, Math.min(e, dim - 1));
                taken = dim > 0 && b > e ? 1 + (b - e - 1) / stride : 0;
            }
            // counted, not stepped to the end: j + step would overflow for the largest steps
            picks[a] = new int[(int) taken];
            for (int j = 0; j < taken; j++) {
                picks[a][j] = (int) (step > 0 ? b + j * stride : b - j * stride);
            }
        }
        int[] out = new int[r];
        for (int a = 0; a < r; a++) {
            out[a] = picks[a].length;
        }
        int[] strides = Shapes.strides(k.shape);
        double[] src = k.values();
        double[] v = new double[Shapes.size(out)];
        for (int f = 0; f < v.length; f++) {
            int rem = f;
            int off = 0;
            for (int a = r - 1; a >= 0; a--) {
                off += picks[a][rem % out[a]] * strides[a];
                rem /= out[a];
            }
            v[f] = src[off];
        }
        return new Const(k.type, out, v);
    }

    private static Const staticSlice(Const k, int[] start, int[] limit, int[] stride) {
        int r = k.shape.length;
        int[] out = new int[r];
        for (int i = 0; i < r; i++) {
            out[i] = limit[i] <= start[i] ? 0 : (limit[i] - start[i] + stride[i] - 1) / stride[i];
        }
        double[] v = new double[Shapes.size(out)];
        int[] inStrides = Shapes.strides(k.shape);
        int[] idx = new int[r];
        double[] src = k.values();
        for (int f = 0; f < v.length; f++) {
            int rem = f;
            int off = 0;
            for (int i = r - 1; i >= 0; i--) {
                idx[i] = rem % out[i];
                rem /= out[i];
                off += (start[i] + idx[i] * stride[i]) * inStrides[i];
            }
            v[f] = src[off];
        }
        return new Const(k.type, out, v);
    }

    private static Value[] split(Ctx c) {
        int[] shape = c.shapeOf(0);
        int r = shape.length;
        int a = c.axis(c.attrInt("axis", 0), r);
        int outs = c.node.getOutputCount();
        long[] sizes = c.opset() >= 13 ? (c.has(1) ? c.constant(1, "split").longs() : null) : c.attrInts("split");
        int dim = shape[a];
        if (sizes == null) {
            int each = (dim + outs - 1) / outs;
            sizes = new long[outs];
            for (int i = 0; i < outs; i++) {
                sizes[i] = Math.max(0, Math.min(each, dim - (long) each * i));
            }
        }
        if (sizes.length != outs || Arrays.stream(sizes).sum() != dim) {
            throw c.error("split sizes " + Tracer.str(sizes) + " do not divide axis " + a + " of size " + dim
                    + " into " + outs + " outputs");
        }
        Value[] r2 = new Value[outs];
        int pos = 0;
        if (c.allConst()) {
            // of a value known at import (torch.repeat_interleave's repeats, an int64 Expand split per element):
            // evaluated, as Slice and Concat of such values are; before 2026-12-07 (late night) refused as not
            // floating
            Const k = c.constant(0, "input");
            int outer = Shapes.size(shape, 0, a);
            int inner = Shapes.size(shape, a + 1, r);
            double[] src = k.values();
            for (int i = 0; i < outs; i++) {
                int len = (int) sizes[i];
                int[] ps = shape.clone();
                ps[a] = len;
                double[] v = new double[outer * len * inner];
                for (int o = 0; o < outer; o++) {
                    System.arraycopy(src, (o * dim + pos) * inner, v, o * len * inner, len * inner);
                }
                r2[i] = new Const(k.type, ps, v);
                pos += len;
            }
            return r2;
        }
        Traced x = c.traced(0);
        for (int i = 0; i < outs; i++) {
            int len = (int) sizes[i];
            Var part = x.var().sliceInDim(a, pos, pos + len, 1);
            r2[i] = c.out(part, x.batch == a ? MIXED : x.batch);
            pos += len;
        }
        return r2;
    }

    private static long[] axesOf(Ctx c) {
        if (c.opset() >= 13) {
            return c.has(1) ? c.constant(1, "axes").longs() : null;
        }
        return c.attrInts("axes");
    }

    private static Value[] squeeze(Ctx c) {
        int[] s = c.shapeOf(0);
        long[] axes = axesOf(c);
        Value v = c.in(0);
        int batch = v instanceof Traced t ? t.batch : NONE;
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < s.length; i++) {
            boolean drop;
            if (axes == null) {
                drop = s[i] == 1 && i != batch;
            } else {
                drop = false;
                for (long a : axes) {
                    drop |= c.axis(a, s.length) == i;
                }
                if (drop && s[i] != 1) {
                    throw c.error("cannot squeeze axis " + i + " of size " + s[i]);
                }
            }
            if (!drop) {
                out.add(s[i]);
            }
        }
        return one(reshapeTo(c, v, out.stream().mapToInt(Integer::intValue).toArray()));
    }

    private static Value[] unsqueeze(Ctx c) {
        int[] s = c.shapeOf(0);
        long[] axes = axesOf(c);
        if (axes == null) {
            throw c.error("no axes given");
        }
        int r = s.length + axes.length;
        boolean[] isNew = new boolean[r];
        for (long a : axes) {
            isNew[c.axis(a, r)] = true;
        }
        int[] out = new int[r];
        for (int i = 0, j = 0; i < r; i++) {
            out[i] = isNew[i] ? 1 : s[j++];
        }
        return one(reshapeTo(c, c.in(0), out));
    }

    private static Value[] expand(Ctx c) {
        int[] s = c.shapeOf(0);
        long[] target = c.constant(1, "shape").longs();
        int[] t = Tracer.toInts(target);
        int[] out = Shapes.broadcast("Expand", s, t);
        Value v = c.in(0);
        if (v instanceof Const k && !k.weightCandidate()) {
            Const shape = new Const(k.type, out, new double[Shapes.size(out)]);
            return one(broadcastMap(c, k.type, new Const[] {k, shape}, x -> x[0]));
        }
        Traced x = c.traced(0);
        Traced perExample = c.followExamples(x, 1, out);
        if (perExample != null) {
            return one(perExample);
        }
        return one(c.out(x.var().broadcastTo(out), Tracer.broadcastBatch(out.length, x)));
    }

    /**
     * Tile(x, repeats): x repeated {@code repeats[i]} times along each axis i (torch's {@code x.repeat(...)}), with
     * the repeats known at import. Evaluated at import on a value known there. On a computed value: where only axes
     * of size 1 repeat, a broadcast, as {@link #expand} (a class token {@code cls.repeat(x.shape[0], 1, 1)} follows
     * the examples' axis the same way); else x reshaped with an axis of size 1 before each repeated axis
     * ([d0, 1, d1] for repeats [1, r1]), broadcast to the repeats ([d0, r1, d1]) and reshaped to [d0, r1·d1], which
     * is the repeat's row-major order. Repeating the examples' axis mixes the examples.
     */
    private static Value[] tile(Ctx c) {
        int[] s = c.shapeOf(0);
        long[] reps = c.constant(1, "repeats").longs();
        if (reps.length != s.length) {
            throw c.error("repeats has " + reps.length + " values for an input of rank " + s.length);
        }
        int[] out = new int[s.length];
        // an axis repeated r > 1 times becomes the pair [r, d] (from [1, d]); the others stay as they are, so that
        // the examples' axis, never repeated, stays first
        List<Integer> pairs = new ArrayList<>();
        List<Integer> source = new ArrayList<>();
        boolean broadcast = true;
        for (int i = 0; i < s.length; i++) {
            if (reps[i] < 0) {
                throw c.error("repeats[" + i + "] is " + reps[i] + "; repeats must be 0 or more");
            }
            out[i] = Math.toIntExact(s[i] * reps[i]);
            if (reps[i] != 1) {
                pairs.add((int) reps[i]);
                source.add(1);
            }
            pairs.add(s[i]);
            source.add(s[i]);
            broadcast &= reps[i] == 1 || s[i] == 1;
        }
        if (c.in(0) instanceof Const k && !k.weightCandidate()) {
            double[] v = k.values();
            double[] r = new double[Shapes.size(out)];
            int[] inStrides = Shapes.strides(s);
            for (int flat = 0; flat < r.length; flat++) {
                int rem = flat;
                int from = 0;
                for (int i = out.length - 1; i >= 0; i--) {
                    from += (rem % out[i]) % s[i] * inStrides[i];
                    rem /= out[i];
                }
                r[flat] = v[from];
            }
            return one(new Const(k.type, out, r));
        }
        Traced x = c.traced(0);
        int batch = x.batch >= 0 && reps[x.batch] != 1 ? MIXED : x.batch;
        if (broadcast) {
            Traced perExample = c.followExamples(x, 1, out);
            return one(perExample != null ? perExample : c.out(x.var().broadcastTo(out), batch));
        }
        Var y = x.var().reshape(source.stream().mapToInt(Integer::intValue).toArray())
                .broadcastTo(pairs.stream().mapToInt(Integer::intValue).toArray()).reshape(out);
        return one(c.out(y, batch));
    }

    /**
     * Trilu: the upper (upper = 1, torch.triu) or lower (torch.tril) triangle of the last two axes from diagonal k
     * (input 1, default 0): element (i, j) is kept where j − i ≥ k (upper) or j − i ≤ k (lower), the others are 0.
     * Evaluated at import on a value known there (a causal mask built in forward, torch.triu(torch.full((L, L),
     * -inf), 1), −∞ kept exactly). On a computed value, a selection by slices and zero padding ({@link #triangle}),
     * not a product with a 0/1 triangle: an infinity outside the triangle (attention scores masked with −∞ before a
     * torch.tril) gives 0 as in ONNX, not 0 · ∞ = NaN. A triangle over the examples' axis mixes the examples.
     */
    private static Value[] trilu(Ctx c) {
        int[] s = c.shapeOf(0);
        if (s.length < 2) {
            throw c.error("input '" + c.node.getInput(0) + "' has rank " + s.length + "; Trilu needs at least 2 axes");
        }
        long k = c.has(1) ? c.constant(1, "k").longs()[0] : 0;
        boolean upper = c.attrInt("upper", 1) != 0;
        int rows = s[s.length - 2];
        int cols = s[s.length - 1];
        if (c.in(0) instanceof Const x && !x.weightCandidate()) {
            double[] v = x.values();
            double[] r = new double[v.length];
            for (int f = 0; f < v.length; f++) {
                long i = f / cols % rows;
                long j = f % cols;
                r[f] = (upper ? j - i >= k : j - i <= k) ? v[f] : 0;
            }
            return one(new Const(x.type, x.shape, r));
        }
        Traced x = c.traced(0);
        // the examples' axis among the two (torch.tril of [N, D]): what an example keeps depends on its row in the
        // batch, so the examples are not independent
        return one(c.out(triangle(x.var(), k, upper), x.batch >= s.length - 2 ? MIXED : x.batch));
    }

    /**
     * The triangle of x's last two axes [R, C] that Trilu keeps, the other elements 0, by moves alone (exact, with
     * the derivative rules of slices, pads and reshapes; an element outside the triangle is never read). Each row is
     * shifted left by its index, so that the diagonal j − i = d becomes column R − 1 + d: x padded to rows of
     * V = C + R − 1, flattened, R − 1 zeros put before and one after, and read as R rows of V + 1
     * (element (i, j) at flat i·V + j + R − 1 = i·(V + 1) + (R − 1 + j − i)). The triangle is then a range of columns:
     * the others are sliced off and padded back with zeros, and the inverse moves restore [R, C].
     */
    private static Var triangle(Var x, long k, boolean upper) {
        int[] s = x.shape();
        int r = s.length;
        int rows = s[r - 2];
        int cols = s[r - 1];
        int width = cols + rows;
        // the columns m of the skewed rows kept: m − (R − 1) = j − i ≥ k (upper) or ≤ k (lower)
        long diagonal = rows - 1 + k;
        int from = upper ? (int) Math.max(0, Math.min(width, diagonal)) : 0;
        int to = upper ? width : (int) Math.max(0, Math.min(width, diagonal + 1));
        if (from == 0 && to == width) {
            return x;
        }
        int[] lead = Arrays.copyOfRange(s, 0, r - 2);
        Var flat = padLast(x, 0, rows - 1).reshape(Shapes.concat(lead, new int[] {rows * (width - 1)}));
        Var skewed = padLast(flat, rows - 1, 1).reshape(Shapes.concat(lead, new int[] {rows, width}));
        Var kept = padLast(skewed.sliceInDim(r - 1, from, to, 1), from, width - to);
        Var back = kept.reshape(Shapes.concat(lead, new int[] {rows * width}))
                .sliceInDim(r - 2, rows - 1, rows - 1 + rows * (width - 1), 1);
        return back.reshape(Shapes.concat(lead, new int[] {rows, width - 1})).sliceInDim(r - 1, 0, cols, 1);
    }

    /** {@code v} with {@code before} zeros before and {@code after} zeros after its last axis. */
    private static Var padLast(Var v, int before, int after) {
        int[] lo = new int[v.rank()];
        int[] hi = new int[v.rank()];
        lo[lo.length - 1] = before;
        hi[hi.length - 1] = after;
        return v.pad(lo, hi);
    }

    private static Value[] gather(Ctx c) {
        if (c.holdsIds(1)) {
            return one(gatherByIds(c));
        }
        Const idx = c.constant(1, "indices");
        int[] s = c.shapeOf(0);
        int a = c.axis(c.attrInt("axis", 0), s.length);
        long[] ix = idx.longs();
        for (int i = 0; i < ix.length; i++) {
            if (ix[i] < 0) {
                ix[i] += s[a];
            }
            if (ix[i] < 0 || ix[i] >= s[a]) {
                throw c.error("index " + idx.longs()[i] + " is out of range for axis " + a + " of size " + s[a]);
            }
        }
        int[] out = Shapes.concat(Arrays.copyOfRange(s, 0, a), idx.shape, Arrays.copyOfRange(s, a + 1, s.length));
        Value v = c.in(0);
        if (v instanceof Const k && !k.weightCandidate()) {
            int outer = Shapes.size(s, 0, a);
            int inner = Shapes.size(s, a + 1, s.length);
            double[] src = k.values();
            double[] r = new double[Shapes.size(out)];
            int pos = 0;
            for (int o = 0; o < outer; o++) {
                for (long i : ix) {
                    System.arraycopy(src, (int) ((o * (long) s[a] + i) * inner), r, pos, inner);
                    pos += inner;
                }
            }
            return one(new Const(k.type, out, r));
        }
        Traced x = c.traced(0);
        if (c.views() && x.isView() && ix.length == 1) {
            // an index of a transposed or reshaped value (Swin's q, k, v = qkv[0], qkv[1], qkv[2]) as a slice of the
            // value as held, which keeps the examples where they are
            Traced selected = Views.select(x, a, (int) ix[0], idx.shape.length == 0);
            if (selected != null) {
                return one(selected);
            }
        }
        Var[] parts = new Var[ix.length];
        for (int i = 0; i < ix.length; i++) {
            parts[i] = x.var().sliceInDim(a, (int) ix[i], (int) ix[i] + 1, 1);
        }
        Var y = ix.length == 0 ? x.var().sliceInDim(a, 0, 0, 1) : Var.concatenate(a, parts);
        int batch = x.batch;
        if (batch == a) {
            batch = MIXED;
        } else if (batch > a) {
            batch += idx.shape.length - 1;
        }
        return one(c.out(y.reshape(out), batch));
    }

    /**
     * Gather(data, ids) with ids computed from the input (an nn.Embedding of token ids): the core primitive
     * {@link org.ntk4j.primitive.GatherRows}, {@code y[..., i..., ...] = data[..., row(ids[i...]), ...]}, where an id
     * in [0, V) is its row and one in [−V, 0) counts from the end (as in ONNX) for the V rows of the gathered axis. It
     * is the one-hot product {@code Σ_v onehot(ids)[i..., v] · data[..., v, ...]} without the one-hot (N·L·D, not
     * N·L·V·D): linear in data, its JVP a gather of the table's tangent, its VJP a scatter-add of the cotangent's
     * rows; the ids have no derivative. An id out of range gives a row of NaN, which the kernel methods report,
     * rather than a silent zero row ({@link OnnxModel#checkIds} names the id first, as the CLI does).
     */
    private static Traced gatherByIds(Ctx c) {
        Traced data = c.tracedAnyType(0);
        Traced idx = c.traced(1);
        int[] s = data.shape();
        int a = c.axis(c.attrInt("axis", 0), s.length);
        c.noteIdRows(1, s[a], c.node.getInput(0));
        Var y = c.builder().apply(new org.ntk4j.primitive.GatherRows(a), data.var(), idx.var());
        // each example's ids pick rows of a table that does not depend on the examples: the example axis stays
        int batch = data.batch != NONE || idx.batch < 0 ? MIXED : a + idx.batch;
        return c.out(y, batch);
    }

    // ---- comparisons and Where ----

    /** A comparison: a BOOL constant of constants, else a mask of 0 and 1 in the trace's dtype. */
    private static Value[] compare(Ctx c, java.util.function.Predicate<double[]> test,
                                   java.util.function.BinaryOperator<Var> mask) {
        if (c.allConst()) {
            return one(staticMap(c, c.op(), BOOL, v -> test.test(v) ? 1 : 0));
        }
        return one(elementwise(c, c.tracedAnyType(0), c.tracedAnyType(1), mask));
    }

    private static Value[] not(Ctx c) {
        if (c.allConst()) {
            return one(staticMap(c, "Not", BOOL, v -> v[0] != 0 ? 0 : 1));
        }
        Traced m = c.tracedAnyType(0);
        return one(m.withPhys(m.phys.neg().add(1.0), m.tBatch));
    }

    /**
     * Where(cond, a, b): elementwise on constants; else cond · a + (1 − cond) · b with cond a mask of 0 and 1, whose
     * derivative is a's where cond holds and b's elsewhere (an infinite or NaN value that the graph computes in the
     * branch not taken makes the result NaN, which the kernel methods report). A branch known at import may hold
     * ±∞ (PyTorch's attention masks are Where(mask, −∞, 0)): its finite part goes through the product above, and
     * its infinities are added exactly, as log(1 − s) = −∞ where s = 1 and 0 where s = 0, for s the 0/1 mask of
     * the elements whose branch taken is −∞ (−log(1 − s) for +∞). s depends on no parameter, so no derivative
     * flows through the logarithm. A branch of integer constants (ONNX then makes the other one of the same integer
     * type: whole numbers without derivative) is a graph constant of its values.
     */
    private static Value[] where(Ctx c) {
        if (c.allConst()) {
            return one(staticMap(c, "Where", -1, v -> v[0] != 0 ? v[1] : v[2]));
        }
        Traced cond = c.tracedAnyType(0);
        Traced notCond = cond.withPhys(cond.phys.neg().add(1.0), cond.tBatch);
        DType dt = cond.phys.dtype();
        Traced taken = elementwise(c, cond, whereBranch(c, 1, 0, dt), Var::mul);
        Traced result = elementwise(c, taken, elementwise(c, notCond, whereBranch(c, 2, 0, dt), Var::mul), Var::add);
        for (int sign : new int[] {-1, 1}) {
            Traced a = whereBranch(c, 1, sign, dt);
            Traced b = whereBranch(c, 2, sign, dt);
            Traced s = a == null ? null : elementwise(c, cond, a, Var::mul);
            if (b != null) {
                Traced fromB = elementwise(c, notCond, b, Var::mul);
                s = s == null ? fromB : elementwise(c, s, fromB, Var::add);
            }
            if (s != null) {
                Var logOfNot = s.phys.neg().add(1.0).log();
                result = elementwise(c, result, s.withPhys(sign < 0 ? logOfNot : logOfNot.neg(), s.tBatch), Var::add);
            }
        }
        return one(result);
    }

    /**
     * Where's branch i: for {@code part} 0 the branch, with the infinities of a branch known at import replaced by
     * 0; for {@code part} ±1 the 0/1 mask of the branch's elements equal to ±∞ (null where there are none, or the
     * branch is computed).
     */
    private static Traced whereBranch(Ctx c, int i, int part, DType dt) {
        if (!(c.in(i) instanceof Const k) || k.weightCandidate()) {
            return part == 0 ? c.traced(i) : null;
        }
        if (!k.floating()) {
            // an integer constant (torch.where(n > 0, n, 1) on int64 counts): the other branch is of the same integer
            // type, so whole numbers without derivative, and the selection is exact in the trace's dtype
            return part == 0 ? c.tracedAnyType(i) : null;
        }
        double[] v = k.values();
        double[] r = new double[v.length];
        boolean any = false;
        for (int j = 0; j < v.length; j++) {
            // a finite value beyond float32's range (float64's finfo.min, Hugging Face's mask value in a float64
            // export) is finite in float32 too, saturated (InitializerData.tensorOf)
            boolean inf = Double.isInfinite(v[j]);
            any |= part != 0 && inf && Math.signum(v[j]) == part;
            r[j] = part == 0 ? (inf ? 0 : v[j]) : (inf && Math.signum(v[j]) == part ? 1 : 0);
        }
        if (part != 0 && !any) {
            return null;
        }
        return new Traced(c.builder().constant(InitializerData.tensorOf(dt, r, k.shape)), NONE);
    }

    // ---- evaluated at import ----

    private static Value[] constant(Ctx c) {
        if (c.attr("value") != null) {
            return one(c.attrTensor("value"));
        }
        if (c.attr("value_float") != null) {
            return one(new Const(FLOAT, new int[0], new double[] {c.attrFloat("value_float", 0)}));
        }
        if (c.attr("value_int") != null) {
            return one(new Const(INT64, new int[0], new double[] {c.attrInt("value_int", 0)}));
        }
        if (c.attr("value_ints") != null) {
            long[] v = c.attrInts("value_ints");
            return one(new Const(INT64, new int[] {v.length}, Arrays.stream(v).asDoubleStream().toArray()));
        }
        if (c.attr("value_floats") != null) {
            List<Float> f = c.attr("value_floats").getFloatsList();
            double[] v = new double[f.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = f.get(i);
            }
            return one(new Const(FLOAT, new int[] {v.length}, v));
        }
        throw c.unsupported("a value that is not a tensor, float(s) or int(s)");
    }

    private static Value[] shape(Ctx c) {
        int[] s = c.shapeOf(0);
        int r = s.length;
        long start = c.attrInt("start", 0);
        long end = c.attrInt("end", r);
        int b = (int) Math.max(0, Math.min(r, start < 0 ? start + r : start));
        int e = (int) Math.max(b, Math.min(r, end < 0 ? end + r : end));
        double[] v = new double[e - b];
        for (int i = b; i < e; i++) {
            v[i - b] = s[i];
        }
        return one(new Const(INT64, new int[] {v.length}, v));
    }

    private static Value[] cast(Ctx c) {
        int to = (int) c.attrInt("to", FLOAT);
        Value v = c.in(0);
        if (v instanceof Const k && !k.weightCandidate()) {
            double[] src = k.values();
            double[] r = new double[src.length];
            for (int i = 0; i < r.length; i++) {
                double x = src[i];
                r[i] = switch (to) {
                    case TensorProto.DataType.FLOAT_VALUE -> (float) x;
                    case TensorProto.DataType.DOUBLE_VALUE -> x;
                    case TensorProto.DataType.BOOL_VALUE -> x != 0 ? 1 : 0;
                    default -> (double) (long) x;
                };
            }
            return one(new Const(to, k.shape, r));
        }
        if (to == BOOL) {
            // bool(x) = 1 − [x = 0], a mask of 0 and 1 without derivative (a mask stays itself)
            Traced x = c.traced(0);
            Var isZero = x.phys.equalTo(c.builder().scalar(0.0, x.phys.dtype()));
            return one(x.withPhys(isZero.neg().add(1.0), x.tBatch));
        }
        if (InitializerData.isFloatType(to) || c.holdsWholeNumbers(0)) {
            // the graph computes in one floating dtype: a cast between float and double is the identity here, and
            // whole numbers without derivative (ids, masks, what adding or multiplying them makes) are held as they
            // are in it, so a cast of them to an integer type keeps them (ids stay ids, see Tracer#holdsIds). A new
            // value all the same: the Tracer notes of each value whether it holds ids and whether its type is integer
            Traced x = c.traced(0);
            return one(x.withPhys(x.phys, x.tBatch));
        }
        String what = "a cast to " + InitializerData.typeName(to) + " of '" + c.node.getInput(0) + "', ";
        if (c.withoutDerivative(0)) {
            throw c.error(what + "computed from the input alone but not known to hold whole numbers, rounds it "
                    + "towards zero, which the import does not compute; " + WHOLE_CASTS);
        }
        throw c.error(what + "which depends on the parameters, is not differentiable (rounding towards zero is a "
                + "step function of them); " + WHOLE_CASTS);
    }

    /** What a cast to an integer type takes, for messages. */
    private static final String WHOLE_CASTS = "only whole numbers without derivative are cast to an integer type "
            + "(comparisons, bool and integer inputs, and what moving, adding, subtracting or multiplying them makes)";

    private static Value[] constantOfShape(Ctx c) {
        int[] s = Tracer.toInts(c.constant(0, "shape").longs());
        Const fill = c.attr("value") != null ? c.attrTensor("value") : new Const(FLOAT, new int[] {1}, new double[1]);
        double[] v = new double[Shapes.size(s)];
        Arrays.fill(v, fill.values()[0]);
        return one(new Const(fill.type, s, v));
    }

    /**
     * ScatterND: data with the slices that indices name replaced by updates (reduction none, or combined by add,
     * mul, max or min). Of constants, evaluated at import: the masks that slice assignments to a new tensor leave
     * ({@code attn_mask[h0:h1, w0:w1] = k} in Swin's shifted windows). Where data or updates are parameters or
     * computed from them ({@code w = self.w.clone(); w[0] = 0; w[:, 1] = self.b}), reduction none: the output is
     * data's and updates' values, flattened, cut into runs and concatenated in the output's order, so each
     * parameter's derivative goes to the elements it still holds. Before 2026-12-07 (late night) data that was a
     * parameter was read as a constant: the parameter was silently left out of θ. Indices must be known at import;
     * data or updates computed from x are refused, as are the other reductions of computed values.
     */
    private static Value[] scatterNd(Ctx c) {
        Const indices = c.constant(1, "indices");
        for (int i : new int[] {0, 2}) {
            if (c.in(i) instanceof Traced t && t.batch != NONE) {
                throw c.error("'" + c.node.getInput(i) + "' is computed from the input x: a slice assignment to a "
                        + "value of the examples is not imported (one to a parameter's copy is; write it with "
                        + "torch.cat or torch.where instead)");
            }
        }
        String reduction = c.attrString("reduction", "none");
        DoubleBinaryOperator combine = switch (reduction) {
            case "none" -> (old, u) -> u;
            case "add" -> Double::sum;
            case "mul" -> (old, u) -> old * u;
            case "max" -> Math::max;
            case "min" -> Math::min;
            default -> throw c.error("reduction must be none, add, mul, max or min, got '" + reduction + "'");
        };
        int[] ds = c.shapeOf(0);
        int[] is = indices.shape;
        int q = is.length;
        int k = q == 0 ? -1 : is[q - 1];
        if (q == 0 || k < 1 || k > ds.length) {
            throw c.error("indices must have a last axis of 1 to " + ds.length + " (data " + Arrays.toString(ds)
                    + "), got " + Arrays.toString(is));
        }
        int[] us = new int[q - 1 + ds.length - k];
        System.arraycopy(is, 0, us, 0, q - 1);
        System.arraycopy(ds, k, us, q - 1, ds.length - k);
        if (!Arrays.equals(us, c.shapeOf(2))) {
            throw c.error("updates must have shape " + Arrays.toString(us) + " (indices " + Arrays.toString(is)
                    + ", data " + Arrays.toString(ds) + "), got " + Arrays.toString(c.shapeOf(2)));
        }
        int slice = 1;
        for (int i = k; i < ds.length; i++) {
            slice *= ds[i];
        }
        int[] dstrides = Shapes.strides(ds);
        double[] idx = indices.values();
        int[] offsets = new int[idx.length / k];
        for (int t = 0; t < offsets.length; t++) {
            for (int j = 0; j < k; j++) {
                long v = (long) idx[t * k + j];
                long at = v < 0 ? v + ds[j] : v;
                if (at < 0 || at >= ds[j]) {
                    throw c.error("index " + v + " is out of range for axis " + j + " of data "
                            + Arrays.toString(ds));
                }
                offsets[t] += (int) at * dstrides[j];
            }
        }
        if (!c.allConst()) {
            return one(scatterComputed(c, reduction, ds, offsets, slice));
        }
        Const data = c.constant(0, "data");
        double[] out = data.values().clone();
        double[] upd = c.constant(2, "updates").values();
        for (int t = 0; t < offsets.length; t++) {
            for (int e = 0; e < slice; e++) {
                out[offsets[t] + e] = combine.applyAsDouble(out[offsets[t] + e], upd[t * slice + e]);
            }
        }
        return one(new Const(data.type, ds, out));
    }

    /** ScatterND (reduction none) of data or updates that are parameters or computed from them, by runs. */
    private static Traced scatterComputed(Ctx c, String reduction, int[] ds, int[] offsets, int slice) {
        if (!reduction.equals("none")) {
            throw c.error("reduction '" + reduction + "' of data or updates computed from the parameters is not "
                    + "imported (reduction none is)");
        }
        Traced data = c.traced(0);
        Traced updates = c.traced(2);
        // source[j]: -1 where the output keeps data's element j, else the updates' flat index (the last write wins)
        int[] source = new int[Shapes.size(ds)];
        Arrays.fill(source, -1);
        for (int t = 0; t < offsets.length; t++) {
            for (int e = 0; e < slice; e++) {
                source[offsets[t] + e] = t * slice + e;
            }
        }
        Var d = data.var().reshape(source.length);
        Var u = updates.var().reshape(offsets.length * slice);
        List<Var> runs = new ArrayList<>();
        int j = 0;
        while (j < source.length) {
            int from = j;
            if (source[j] < 0) {
                while (j < source.length && source[j] < 0) {
                    j++;
                }
                runs.add(d.sliceInDim(0, from, j, 1));
            } else {
                while (j < source.length && source[j] >= 0 && source[j] - source[from] == j - from) {
                    j++;
                }
                runs.add(u.sliceInDim(0, source[from], source[from] + j - from, 1));
            }
        }
        Var y = runs.size() == 1 ? runs.get(0) : Var.concatenate(0, runs.toArray(Var[]::new));
        return c.out(y.reshape(ds), NONE);
    }

    private static Value[] range(Ctx c) {
        Const start = c.constant(0, "start");
        double b = start.values()[0];
        double e = c.constant(1, "limit").values()[0];
        double d = c.constant(2, "delta").values()[0];
        int n = (int) Math.max(0, Math.ceil((e - b) / d));
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = b + i * d;
        }
        return one(new Const(start.type, new int[] {n}, v));
    }

    static Const staticUnary(Ctx c, DoubleUnaryOperator f) {
        Const k = c.constant(0, "x");
        double[] src = k.values();
        double[] r = new double[src.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = f.applyAsDouble(src[i]);
        }
        return new Const(k.type, k.shape, r);
    }

    /** An elementwise function of constant inputs with broadcasting; type -1 takes the last input's type. */
    static Const staticMap(Ctx c, String op, int type, java.util.function.ToDoubleFunction<double[]> f) {
        if (!c.allConst()) {
            throw c.unsupported("inputs computed from the input x or the parameters (" + op
                    + " is evaluated at import only)");
        }
        Const[] ins = new Const[c.inputs()];
        for (int i = 0; i < ins.length; i++) {
            ins[i] = c.constant(i, "operand");
        }
        return broadcastMap(c, type < 0 ? ins[ins.length - 1].type : type, ins, f);
    }

    private static Const broadcastMap(Ctx c, int type, Const[] ins, java.util.function.ToDoubleFunction<double[]> f) {
        int[] out = new int[0];
        for (Const k : ins) {
            out = Shapes.broadcast(c.op(), out, k.shape);
        }
        int[][] strides = new int[ins.length][];
        for (int j = 0; j < ins.length; j++) {
            int[] s = ins[j].shape;
            int[] st = Shapes.strides(s);
            int[] full = new int[out.length];
            for (int i = 0; i < s.length; i++) {
                int o = out.length - s.length + i;
                full[o] = s[i] == 1 ? 0 : st[i];
            }
            strides[j] = full;
        }
        double[] r = new double[Shapes.size(out)];
        double[] args = new double[ins.length];
        for (int flat = 0; flat < r.length; flat++) {
            int rem = flat;
            int[] off = new int[ins.length];
            for (int i = out.length - 1; i >= 0; i--) {
                int idx = rem % out[i];
                rem /= out[i];
                for (int j = 0; j < ins.length; j++) {
                    off[j] += idx * strides[j][i];
                }
            }
            for (int j = 0; j < ins.length; j++) {
                args[j] = ins[j].values()[off[j]];
            }
            r[flat] = f.applyAsDouble(args);
        }
        return new Const(type, out, r);
    }
}
