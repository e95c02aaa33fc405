package org.ntk4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** Small helpers shared by the tests: building tensors and graphs, and comparing values. */
public final class Fixtures {
    private Fixtures() {
    }

    /** A float64 tensor. */
    public static Tensor f64(double[] data, int... shape) {
        return Tensor.of(data, shape);
    }

    /** A float32 tensor from double literals. */
    public static Tensor f32(double[] data, int... shape) {
        return Tensor.of(DType.F32, data, shape);
    }

    /** A tensor of the given dtype. */
    public static Tensor tensor(DType dtype, double[] data, int... shape) {
        return Tensor.of(dtype, data, shape);
    }

    public static double[] d(double... v) {
        return v;
    }

    public static int[] s(int... v) {
        return v;
    }

    /** Traces a one-output function of inputs of the given types. */
    public static Graph trace1(Function<Var[], Var> fn, TensorType... types) {
        return Graph.trace(List.of(types), v -> new Var[] {fn.apply(v)});
    }

    /** Evaluates a one-output graph, closing nothing the caller passed. */
    public static Tensor eval1(Graph g, Tensor... args) {
        Tensor[] r = g.evaluate(args);
        assertThat(r).hasSize(1);
        return r[0];
    }

    /** Asserts shape and elements, each within {@code tol} of the expected value (absolute). */
    public static void assertValues(Tensor actual, int[] shape, double[] expected, double tol) {
        assertThat(actual.shape()).as("shape of %s", actual).containsExactly(shape);
        double[] a = actual.toDoubleArray();
        assertThat(a.length).isEqualTo(expected.length);
        for (int i = 0; i < a.length; i++) {
            if (Double.isNaN(expected[i])) {
                assertThat(a[i]).as("element %d of %s", i, actual).isNaN();
            } else if (Double.isInfinite(expected[i])) {
                assertThat(a[i]).as("element %d of %s", i, actual).isEqualTo(expected[i]);
            } else {
                assertThat(Math.abs(a[i] - expected[i])).as("element %d of %s: %s vs expected %s", i, actual,
                        a[i], expected[i]).isLessThanOrEqualTo(tol);
            }
        }
    }

    /** Asserts shape and bitwise-equal elements (after widening to double). */
    public static void assertExact(Tensor actual, int[] shape, double... expected) {
        assertThat(actual.shape()).as("shape of %s", actual).containsExactly(shape);
        double[] a = actual.toDoubleArray();
        assertThat(a.length).as("size of %s", actual).isEqualTo(expected.length);
        for (int i = 0; i < a.length; i++) {
            // Double.compare: NaN equals NaN, -0.0 differs from 0.0 only when asked for by the expectation's sign
            if (Double.compare(a[i], expected[i]) != 0 && !(a[i] == 0 && expected[i] == 0)) {
                throw new AssertionError("element " + i + " of " + actual + ": " + a[i] + ", expected "
                        + expected[i]);
            }
        }
    }

    /**
     * Asserts two arrays equal element by element (as {@link Double#equals}: NaN equals NaN, 0.0 differs from
     * -0.0). On failure the message is one line: the first differing index, its two values and how many elements
     * differ (or the two lengths), never the whole arrays, which AssertJ's containsExactly prints.
     */
    public static void assertSameElements(String what, double[] actual, double[] expected) {
        if (actual.length != expected.length) {
            throw new AssertionError(what + ": length " + actual.length + ", expected " + expected.length);
        }
        int first = -1;
        int count = 0;
        for (int i = 0; i < actual.length; i++) {
            if (Double.compare(actual[i], expected[i]) != 0) {
                first = first < 0 ? i : first;
                count++;
            }
        }
        if (count > 0) {
            throw new AssertionError(what + ": " + count + " of " + actual.length + " elements differ; first at index "
                    + first + ": " + actual[first] + ", expected " + expected[first]);
        }
    }

    /** {@link #assertSameElements(String, double[], double[])} for float arrays (as {@link Float#equals}). */
    public static void assertSameElements(String what, float[] actual, float[] expected) {
        if (actual.length != expected.length) {
            throw new AssertionError(what + ": length " + actual.length + ", expected " + expected.length);
        }
        int first = -1;
        int count = 0;
        for (int i = 0; i < actual.length; i++) {
            if (Float.compare(actual[i], expected[i]) != 0) {
                first = first < 0 ? i : first;
                count++;
            }
        }
        if (count > 0) {
            throw new AssertionError(what + ": " + count + " of " + actual.length + " elements differ; first at index "
                    + first + ": " + actual[first] + ", expected " + expected[first]);
        }
    }

    /** max |a - b| / max(max |b|, floor). */
    public static double relativeError(double[] a, double[] b, double floor) {
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        double err = 0;
        double scale = floor;
        for (int i = 0; i < a.length; i++) {
            err = Math.max(err, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(b[i]));
        }
        return err / scale;
    }

    /** Closes every tensor (nulls allowed). */
    public static void closeAll(Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null) {
                t.close();
            }
        }
    }

    /** Row-major multi-index of a flat index. */
    public static int[] unravel(int flat, int[] shape) {
        int[] idx = new int[shape.length];
        for (int i = shape.length - 1; i >= 0; i--) {
            idx[i] = flat % shape[i];
            flat /= shape[i];
        }
        return idx;
    }

    /**
     * The flat index an operand of {@code shape} reads for the result multi-index {@code outIdx} under NumPy
     * broadcasting (leading axes missing, axes of size 1 read at 0).
     *
     * @param shape the operand's shape
     * @param outIdx the result's multi-index
     * @return the operand's flat index
     */
    public static int broadcastRead(int[] shape, int[] outIdx) {
        int off = outIdx.length - shape.length;
        int flat = 0;
        for (int i = 0; i < shape.length; i++) {
            flat = flat * shape[i] + (shape[i] == 1 ? 0 : outIdx[i + off]);
        }
        return flat;
    }

    /** Flat index of a row-major multi-index. */
    public static int ravel(int[] idx, int[] shape) {
        int flat = 0;
        for (int i = 0; i < shape.length; i++) {
            flat = flat * shape[i] + idx[i];
        }
        return flat;
    }

    public static String str(int[] shape) {
        return Arrays.toString(shape);
    }

    /** ‖a − b‖_F / ‖b‖_F over the flat elements (shapes must match). */
    public static double relativeError(org.ntk4j.tensor.Tensor a, org.ntk4j.tensor.Tensor b) {
        if (!java.util.Arrays.equals(a.shape(), b.shape())) {
            throw new AssertionError("shapes differ: " + java.util.Arrays.toString(a.shape()) + " and "
                    + java.util.Arrays.toString(b.shape()));
        }
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.size(); i++) {
            double d = a.getFlat(i) - b.getFlat(i);
            num += d * d;
            den += b.getFlat(i) * b.getFlat(i);
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }

    /**
     * A two-layer model on inputs [4] whose layers apply the binary primitive {@code op} (a matmul-like one):
     * h = tanh(op(x, w1 [4, 6])), f = op(h, w2 [6, 3]); for tests of how the methods treat a primitive class the
     * library has never seen.
     *
     * @param op the primitive of both layers
     * @param kind the layer's kind and the model's spec
     * @return the model
     */
    public static org.ntk4j.nn.Model twoLayerModel(org.ntk4j.primitive.Primitive op, String kind) {
        return layerModel(kind, new int[] {3}, scope -> {
            scope.declare("w1", new int[] {4, 6}, 1.0, 0);
            scope.declare("w2", new int[] {6, 3}, 1.0, 0);
        }, (scope, x) -> {
            Var h = x.builder().apply(op, x, scope.get("w1")).tanh();
            return h.builder().apply(op, h, scope.get("w2"));
        });
    }

    /**
     * A model of one custom layer with one input and one output: {@code declare} declares its parameters,
     * {@code apply} computes f(x) from them.
     *
     * @param kind the layer's kind and the model's spec
     * @param outShape the output shape of one example
     * @param declare declares the parameters
     * @param apply the layer's function of the parameters and the input
     * @return the model
     */
    public static org.ntk4j.nn.Model layerModel(String kind, int[] outShape,
            java.util.function.Consumer<org.ntk4j.nn.ParamScope> declare,
            java.util.function.BiFunction<org.ntk4j.nn.ParamScope, Var, Var> apply) {
        return new org.ntk4j.nn.Model(new org.ntk4j.nn.Layer() {
            @Override
            public String kind() {
                return kind;
            }

            @Override
            public List<int[]> outputShapes(List<int[]> in) {
                return List.of(outShape.clone());
            }

            @Override
            public void declare(org.ntk4j.nn.ParamScope scope, List<int[]> in) {
                declare.accept(scope);
            }

            @Override
            public List<Var> apply(org.ntk4j.nn.ParamScope scope, List<Var> in) {
                return List.of(apply.apply(scope, in.get(0)));
            }
        }, kind);
    }
}
