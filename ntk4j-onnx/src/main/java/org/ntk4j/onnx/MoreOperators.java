package org.ntk4j.onnx;

import static org.ntk4j.onnx.Tracer.MIXED;
import static org.ntk4j.onnx.Tracer.NONE;

import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;
import org.ntk4j.graph.Var;
import org.ntk4j.onnx.Tracer.Const;
import org.ntk4j.onnx.Tracer.Ctx;
import org.ntk4j.onnx.Tracer.Traced;
import org.ntk4j.onnx.Tracer.Value;
import org.ntk4j.primitive.UnaryPrimitive;
import org.ntk4j.tensor.Shapes;

/**
 * Operators that common PyTorch modules and functions export, beyond {@link Operators}' core set: the inverse
 * trigonometric functions and Tan (torch.atan, asin, acos, tan), rounding (torch.floor, ceil, round: derivative 0,
 * PyTorch's), the boolean And, Or and Xor of masks (nn.Hardshrink's Or), CumSum (torch.cumsum), DepthToSpace
 * (nn.PixelShuffle) and SpaceToDepth, and the product of a reduction ({@link #product}: torch.prod, and the element
 * count that torch.var and torch.std compute with ReduceProd of the input's shape).
 */
final class MoreOperators {
    private MoreOperators() {
    }

    /**
     * An elementwise function of the ONNX import: f as a scalar function (Java's {@link Math}), which also computes
     * it of a constant at import ({@link #apply(Ctx, ScalarFunction)}).
     */
    abstract static class ScalarFunction extends UnaryPrimitive {
        private final String name;
        private final DoubleUnaryOperator f;

        ScalarFunction(String name, DoubleUnaryOperator f) {
            this.name = name;
            this.f = f;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        protected double apply(double x) {
            return f.applyAsDouble(x);
        }
    }

    /** atan, asin and acos, with f' as graph operations of the input x. */
    static final class ArcFunction extends ScalarFunction {
        /** atan x, derivative 1 / (1 + x²). */
        static final ArcFunction ATAN = new ArcFunction("atan", Math::atan, x -> reciprocal(x.mul(x).add(1.0)));
        /** asin x, derivative 1 / √(1 − x²) (∞ at ±1, PyTorch's too; NaN outside [−1, 1]). */
        static final ArcFunction ASIN = new ArcFunction("asin", Math::asin,
                x -> reciprocal(x.mul(x).neg().add(1.0).sqrt()));
        /** acos x, derivative −1 / √(1 − x²). */
        static final ArcFunction ACOS = new ArcFunction("acos", Math::acos,
                x -> reciprocal(x.mul(x).neg().add(1.0).sqrt()).neg());

        private final UnaryOperator<Var> derivative;

        private ArcFunction(String name, DoubleUnaryOperator f, UnaryOperator<Var> derivative) {
            super(name, f);
            this.derivative = derivative;
        }

        @Override
        protected Var derivative(Var x, Var y) {
            return derivative.apply(x);
        }

        private static Var reciprocal(Var d) {
            return d.builder().scalar(1.0, d.dtype()).div(d);
        }
    }

    /** A {@link ScalarFunction} through which no derivative flows (its JVP and VJP are zero: null). */
    abstract static class NoDerivative extends ScalarFunction {
        NoDerivative(String name, DoubleUnaryOperator f) {
            super(name, f);
        }

        /** 0; unused, as {@link #jvp} and {@link #vjp} say so directly. */
        @Override
        protected Var derivative(Var x, Var y) {
            return x.mul(0.0);
        }

        @Override
        public Var jvp(Var[] primals, Var out, Var[] tangents, int k) {
            return null;
        }

        @Override
        public Var[] vjp(Var[] primals, Var out, Var ct, boolean[] needed) {
            return new Var[] {null};
        }
    }

    /**
     * Floor, Ceil or Round (half to even, ONNX's and torch.round's) of a computed value: a step function, whose
     * derivative is 0 everywhere (PyTorch's, which is 0 at the steps too), so that no derivative flows through it,
     * as through a comparison.
     */
    static final class Rounding extends NoDerivative {
        /** The largest integer ≤ x. */
        static final Rounding FLOOR = new Rounding("floor", Math::floor);
        /** The smallest integer ≥ x. */
        static final Rounding CEIL = new Rounding("ceil", Math::ceil);
        /** The nearest integer, halves to the even one (Math.rint). */
        static final Rounding ROUND = new Rounding("round", Math::rint);

        private Rounding(String name, DoubleUnaryOperator f) {
            super(name, f);
        }
    }

    /**
     * The identity through which no derivative flows: softmax's shift by the maximum, of which the result does not
     * depend. Left to flow, the shift's derivative is a sum that cancels only up to rounding (Σ_k (g_k − p_k·Σg)
     * for LogSoftmax: O·2⁻²⁴ of the cotangents' sum in float32), and it lands on each row's largest logit: a
     * {@code pntk} (cotangents of ones) through a LogSoftmax of 100 outputs erred by ten times a float32 kernel's
     * rounding. PyTorch's softmax and log_softmax backward leave the shift out alike.
     */
    static final class ShiftConstant extends NoDerivative {
        /** The one instance. */
        static final ShiftConstant INSTANCE = new ShiftConstant();

        private ShiftConstant() {
            super("softmax_shift", x -> x);
        }
    }

    /** An elementwise {@link ScalarFunction}: of a constant at import, else applied to the value as held. */
    static Value[] apply(Ctx c, ScalarFunction p) {
        if (c.allConst()) {
            return Operators.one(Operators.staticUnary(c, p.f));
        }
        return Operators.unary(c, v -> v.builder().apply(p, v));
    }

    /** tan x = sin x / cos x, whose derivative (cos² + sin²) / cos² is 1 / cos² x. */
    static Value[] tan(Ctx c) {
        if (c.allConst()) {
            return Operators.one(Operators.staticUnary(c, Math::tan));
        }
        return Operators.unary(c, v -> v.sin().div(v.cos()));
    }

    /**
     * And, Or or Xor of two masks (0 and 1, with broadcasting): a · b, a + b − a · b, a + b − 2 a · b. Without
     * derivative, as the masks they combine.
     */
    static Value[] logic(Ctx c, int op) {
        if (c.allConst()) {
            return Operators.one(Operators.staticMap(c, c.op(), Operators.BOOL, v -> {
                boolean a = v[0] != 0;
                boolean b = v[1] != 0;
                return (op == 0 ? a && b : op == 1 ? a || b : a ^ b) ? 1 : 0;
            }));
        }
        return Operators.one(Operators.elementwise(c, c.tracedAnyType(0), c.tracedAnyType(1), (a, b) -> {
            Var ab = a.mul(b);
            return op == 0 ? ab : op == 1 ? a.add(b).sub(ab) : a.add(b).sub(ab.mul(2.0));
        }));
    }

    /**
     * CumSum(x, axis) with the attributes exclusive (the sum of the elements before, not up to) and reverse (from
     * the end). Of a computed value, a scan of ⌈log₂ n⌉ steps, y ← y + (y shifted by d along the axis, zeros moved
     * in), d = 1, 2, 4, ...; exclusive then shifts by 1 more: pads and adds, linear, their derivative the same
     * scan. A constant 0/1 matrix applied along the axis is the same map, but holds n² values (n = 46341 overflows
     * an int, n = 4096 is 128 MiB in float64) and multiplies every element by every 0 of its row, so that one
     * ±∞ or NaN (a log of 0 summed up) would make the whole row NaN, the sums before it included; PyTorch's
     * sequential sum keeps them finite, as the scan does. Constants at import, summed in order.
     */
    static Value[] cumSum(Ctx c) {
        Const axisIn = c.constant(1, "axis");
        if (axisIn.values().length != 1) {
            throw c.error("input 1 (axis) must be a single number, has shape " + Shapes.str(axisIn.shape));
        }
        boolean exclusive = c.attrInt("exclusive", 0) != 0;
        boolean reverse = c.attrInt("reverse", 0) != 0;
        int[] s = c.shapeOf(0);
        int a = c.axis(axisIn.longs()[0], s.length);
        int n = s[a];
        if (c.in(0) instanceof Const k && !k.weightCandidate()) {
            double[] v = k.values();
            double[] r = new double[v.length];
            int inner = Shapes.size(s, a + 1, s.length);
            for (int f = 0; f < v.length; f++) {
                int j = f / inner % n;
                int base = f - j * inner;
                int from = reverse ? (exclusive ? j + 1 : j) : 0;
                int to = reverse ? n : (exclusive ? j : j + 1);
                for (int i = from; i < to; i++) {
                    r[f] += v[base + i * inner];
                }
            }
            return Operators.one(new Const(k.type, k.shape, r));
        }
        Traced x = c.traced(0);
        Var y = x.var();
        for (int d = 1; d < n; d *= 2) {
            y = y.add(shift(y, a, reverse ? -d : d));
        }
        if (exclusive) {
            y = shift(y, a, reverse ? -1 : 1);
        }
        return Operators.one(c.out(y, x.batch == a ? MIXED : x.batch));
    }

    /** y moved by d along axis a (towards the end for d &gt; 0), |d| zeros moved in, as many elements dropped. */
    private static Var shift(Var y, int a, int d) {
        int[] lo = new int[y.rank()];
        int[] hi = new int[y.rank()];
        lo[a] = d;
        hi[a] = -d;
        return y.pad(lo, hi);
    }

    /**
     * OneHot(indices, depth, values) (F.one_hot): along the new axis {@code axis}, values[1] where the index
     * equals the position and values[0] elsewhere; an index in [−depth, 0) counts from the end, one out of range
     * gives values[0] throughout (ONNX's rule). The indices must be whole numbers without derivative (token ids, or
     * a value known at import): a one-hot of computed real values has no derivative and would read them rounded.
     * On a computed value, the masks [i = d] + [i = d − depth] against a constant range, without derivative.
     */
    static Value[] oneHot(Ctx c) {
        Const depthIn = c.constant(1, "depth");
        Const values = c.constant(2, "values");
        // a non-integer depth is truncated, as ONNX casts it to int64; one past int's range is no axis length
        if (depthIn.values().length != 1 || !(depthIn.values()[0] >= 1 && depthIn.values()[0] < Integer.MAX_VALUE)) {
            throw c.error("input 1 (depth) must be a single number in [1, " + Integer.MAX_VALUE + "), got "
                    + java.util.Arrays.toString(depthIn.values()));
        }
        if (values.values().length != 2) {
            throw c.error("input 2 (values) must hold 2 values [off, on], has shape " + Shapes.str(values.shape));
        }
        int depth = (int) depthIn.values()[0];
        double off = values.values()[0];
        double on = values.values()[1];
        int[] s = c.shapeOf(0);
        int a = c.axis(c.attrInt("axis", -1), s.length + 1);
        int[] out = new int[s.length + 1];
        for (int i = 0, j = 0; i < out.length; i++) {
            out[i] = i == a ? depth : s[j++];
        }
        if (c.in(0) instanceof Const k && !k.weightCandidate()) {
            double[] v = k.values();
            double[] r = new double[Shapes.size(out)];
            int inner = Shapes.size(s, a, s.length);
            for (int f = 0; f < r.length; f++) {
                int d = f / inner % depth;
                double id = v[f / (inner * depth) * inner + f % inner];
                long t = (long) id;
                r[f] = t == d || t == d - depth ? on : off;
            }
            return Operators.one(new Const(values.type, out, r));
        }
        if (!c.integer(0) && !c.holdsWholeNumbers(0)) {
            throw c.error("indices '" + c.node.getInput(0) + "' must be whole numbers without derivative (token "
                    + "ids, or values known at import), but are computed real values");
        }
        if (!Double.isFinite(off) || !Double.isFinite(on)) {
            // off + mask · (on − off) would give NaN (0 · ∞) wherever the other value is taken
            throw c.error("input 2 (values) must be finite for indices computed from the input x, got [" + off + ", "
                    + on + "]");
        }
        Traced idx = c.tracedAnyType(0);
        Var ids = idx.var().expandDims(a).broadcastTo(out);
        int[] rangeShape = new int[out.length];
        java.util.Arrays.fill(rangeShape, 1);
        rangeShape[a] = depth;
        double[] range = new double[depth];
        for (int d = 0; d < depth; d++) {
            range[d] = d;
        }
        Var positions = c.builder().constant(InitializerData.tensorOf(ids.dtype(), range, rangeShape))
                .broadcastTo(out);
        Var mask = ids.equalTo(positions).add(ids.equalTo(positions.sub((double) depth)));
        Var y = off == 0 && on == 1 ? mask : mask.mul(on - off).add(off);
        return Operators.one(c.out(y, idx.batch >= a ? idx.batch + 1 : idx.batch));
    }

    /**
     * DepthToSpace (nn.PixelShuffle: mode CRD) or, with {@code toSpace} false, SpaceToDepth, of [N, C, H, W] and
     * blocksize b, by a reshape, a transpose and a reshape: moves, exact, with their derivatives. DepthToSpace's
     * DCR mode (the default, TensorFlow's depth_to_space) reads the channels as [b, b, C'], CRD as [C', b, b];
     * SpaceToDepth writes them as [b, b, C] (DCR), as ONNX defines it.
     */
    static Value[] depthSpace(Ctx c, boolean toSpace) {
        long b = c.attrInt("blocksize", 0);
        int[] s = c.shapeOf(0);
        if (s.length != 4) {
            throw c.error("input '" + c.node.getInput(0) + "' has shape " + Shapes.str(s) + "; " + c.op()
                    + " takes [N, C, H, W]");
        }
        // checked in long: a blocksize beyond the axes is refused here (2^32 would be 0 as an int, and divide by 0)
        long most = toSpace ? (long) Math.sqrt(s[1]) : Math.min(s[2], s[3]);
        if (b < 1 || b > most) {
            throw c.error("blocksize must be in [1, " + most + "] for input " + Tracer.shapeText(c.in(0)) + ", got "
                    + b);
        }
        String mode = toSpace ? c.attrString("mode", "DCR") : "DCR";
        if (!mode.equals("DCR") && !mode.equals("CRD")) {
            throw c.error("mode must be DCR or CRD, got '" + mode + "'");
        }
        int k = (int) b;
        int n = s[0];
        int ch = s[1];
        int h = s[2];
        int w = s[3];
        int[] split;
        int[] perm;
        int[] out;
        if (toSpace) {
            if (ch % (k * k) != 0) {
                throw c.error("channels " + ch + " are not a multiple of blocksize² " + k * k);
            }
            int co = ch / (k * k);
            boolean crd = mode.equals("CRD");
            split = crd ? new int[] {n, co, k, k, h, w} : new int[] {n, k, k, co, h, w};
            perm = crd ? new int[] {0, 1, 4, 2, 5, 3} : new int[] {0, 3, 4, 1, 5, 2};
            out = new int[] {n, co, h * k, w * k};
        } else {
            if (h % k != 0 || w % k != 0) {
                throw c.error("height " + h + " and width " + w + " must be multiples of blocksize " + k);
            }
            split = new int[] {n, ch, h / k, k, w / k, k};
            perm = new int[] {0, 3, 5, 1, 2, 4};
            out = new int[] {n, ch * k * k, h / k, w / k};
        }
        Traced x = c.traced(0);
        Var y = x.var().reshape(split).transpose(perm).reshape(out);
        // the examples stay on axis 0; any other axis of x's examples mixes them with the channels or pixels
        return Operators.one(c.out(y, x.batch == 0 || x.batch == NONE ? x.batch : MIXED));
    }

    /**
     * The product of v over {@code axes} (which the caller keeps or drops): the axes moved last and merged, then
     * halved by products of the two halves (a pairwise tree, ⌈log₂ n⌉ products of slices), an odd element carried
     * over. Its derivative is exact everywhere, the product of the other elements, where a zero is among them too
     * (PyTorch's prod backward; prod / x would be 0/0). The product over no elements is 1.
     */
    static Var product(Var v, int[] axes) {
        int[] s = v.shape();
        int r = s.length;
        int[] perm = new int[r];
        int[] kept = new int[r - axes.length];
        int n = 1;
        int p = 0;
        for (int i = 0; i < r; i++) {
            if (!Shapes.contains(axes, i)) {
                kept[p] = s[i];
                perm[p++] = i;
            }
        }
        for (int a : axes) {
            perm[p++] = a;
            n *= s[a];
        }
        if (n == 0) {
            return v.sum(axes).mul(0.0).add(1.0);
        }
        int last = kept.length;
        Var t = v.transpose(perm).reshape(Shapes.concat(kept, new int[] {n}));
        while (n > 1) {
            int half = n / 2;
            Var pair = t.sliceInDim(last, 0, half, 1).mul(t.sliceInDim(last, half, 2 * half, 1));
            t = n % 2 == 0 ? pair : Var.concatenate(last, pair, t.sliceInDim(last, 2 * half, n, 1));
            n = (n + 1) / 2;
        }
        return t.reshape(kept);
    }
}
