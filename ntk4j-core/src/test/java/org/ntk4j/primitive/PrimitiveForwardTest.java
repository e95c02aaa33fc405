package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.Fixtures.assertValues;
import static org.ntk4j.Fixtures.d;
import static org.ntk4j.Fixtures.s;

import java.util.function.BinaryOperator;
import java.util.function.UnaryOperator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** Hand-computed values of every primitive on tiny inputs, evaluated through traced graphs, in f32 and f64. */
class PrimitiveForwardTest {

    private static double tol(DType dt) {
        return dt == DType.F32 ? 1e-6 : 1e-15;
    }

    private static void checkUnary(DType dt, UnaryOperator<Var> f, int[] shape, double[] x, int[] outShape,
                                   double[] expected) {
        Graph g = Fixtures.trace1(v -> f.apply(v[0]), new TensorType(dt, shape));
        try (Tensor in = Tensor.of(dt, x, shape); Tensor out = Fixtures.eval1(g, in)) {
            assertThat(out.dtype()).isEqualTo(dt);
            assertValues(out, outShape, expected, tol(dt) * Math.max(1, maxAbs(expected)));
        }
    }

    private static void checkBinary(DType dt, BinaryOperator<Var> f, int[] sa, double[] a, int[] sb, double[] b,
                                    int[] outShape, double[] expected) {
        Graph g = Fixtures.trace1(v -> f.apply(v[0], v[1]), new TensorType(dt, sa), new TensorType(dt, sb));
        try (Tensor ta = Tensor.of(dt, a, sa); Tensor tb = Tensor.of(dt, b, sb);
             Tensor out = Fixtures.eval1(g, ta, tb)) {
            assertThat(out.dtype()).isEqualTo(dt);
            assertValues(out, outShape, expected, tol(dt) * Math.max(1, maxAbs(expected)));
        }
    }

    private static double maxAbs(double[] v) {
        double m = 0;
        for (double x : v) {
            if (Double.isFinite(x)) {
                m = Math.max(m, Math.abs(x));
            }
        }
        return m;
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void binaryArithmeticWithBroadcasting(DType dt) {
        double[] a = d(1, 2, 3, 4, 5, 6); // [2,3]
        double[] b = d(10, 20, 30);       // [3]
        checkBinary(dt, Var::add, s(2, 3), a, s(3), b, s(2, 3), d(11, 22, 33, 14, 25, 36));
        checkBinary(dt, Var::sub, s(2, 3), a, s(3), b, s(2, 3), d(-9, -18, -27, -6, -15, -24));
        checkBinary(dt, Var::mul, s(2, 3), a, s(3), b, s(2, 3), d(10, 40, 90, 40, 100, 180));
        checkBinary(dt, Var::div, s(3), b, s(2, 3), a, s(2, 3), d(10, 10, 10, 2.5, 4, 5));
        // [2,1] with [1,3]: an outer sum
        checkBinary(dt, Var::add, s(2, 1), d(1, 2), s(1, 3), d(10, 20, 30), s(2, 3), d(11, 21, 31, 12, 22, 32));
        // rank 0 on either side
        checkBinary(dt, Var::sub, s(), d(1), s(2, 2), d(1, 2, 3, 4), s(2, 2), d(0, -1, -2, -3));
        checkBinary(dt, Var::div, s(2, 2), d(1, 2, 3, 4), s(), d(4), s(2, 2), d(0.25, 0.5, 0.75, 1));
        checkBinary(dt, Var::mul, s(), d(3), s(), d(-2), s(), d(-6));
        // [3,1,2] with [2,1]: result [3,2,2]
        checkBinary(dt, Var::add, s(3, 1, 2), d(1, 2, 3, 4, 5, 6), s(2, 1), d(10, 20), s(3, 2, 2),
                d(11, 12, 21, 22, 13, 14, 23, 24, 15, 16, 25, 26));
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void maxAndComparisons(DType dt) {
        double[] a = d(1, 5, 3, -2);
        double[] b = d(2, 5, 1, -3);
        checkBinary(dt, Var::max, s(4), a, s(4), b, s(4), d(2, 5, 3, -2));
        checkBinary(dt, Var::greater, s(4), a, s(4), b, s(4), d(0, 0, 1, 1));
        checkBinary(dt, Var::equalTo, s(4), a, s(4), b, s(4), d(0, 1, 0, 0));
        checkBinary(dt, Var::greater, s(2, 1), d(1, 3), s(2), d(2, 0), s(2, 2), d(0, 1, 1, 1));
        checkUnary(dt, Var::relu, s(2, 2), d(-1, 0, 0.5, 3), s(2, 2), d(0, 0, 0.5, 3));
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void unaryFunctions(DType dt) {
        double[] x = d(-1, 0, 0.5, 2);
        checkUnary(dt, Var::neg, s(2, 2), x, s(2, 2), d(1, -0.0, -0.5, -2));
        checkUnary(dt, Var::exp, s(4), x, s(4), d(Math.exp(-1), 1, Math.exp(0.5), Math.exp(2)));
        checkUnary(dt, Var::tanh, s(4), x, s(4), d(Math.tanh(-1), 0, Math.tanh(0.5), Math.tanh(2)));
        checkUnary(dt, Var::sin, s(4), x, s(4), d(Math.sin(-1), 0, Math.sin(0.5), Math.sin(2)));
        checkUnary(dt, Var::cos, s(4), x, s(4), d(Math.cos(-1), 1, Math.cos(0.5), Math.cos(2)));
        checkUnary(dt, Var::erf, s(4), x, s(4), d(-0.8427007929497149, 0, 0.5204998778130465, 0.9953222650189527));
        checkUnary(dt, Var::sigmoid, s(4), x, s(4),
                d(1 / (1 + Math.E), 0.5, 1 / (1 + Math.exp(-0.5)), 1 / (1 + Math.exp(-2))));
        checkUnary(dt, Var::softplus, s(4), x, s(4),
                d(Math.log(1 + Math.exp(-1)), Math.log(2), Math.log(1 + Math.exp(0.5)), Math.log(1 + Math.exp(2))));
        checkUnary(dt, Var::log, s(3), d(1, Math.E, 0.25), s(3), d(0, 1, Math.log(0.25)));
        checkUnary(dt, Var::sqrt, s(3), d(4, 0.25, 2), s(3), d(2, 0.5, Math.sqrt(2)));
        checkUnary(dt, Var::exp, s(), d(1), s(), d(Math.E));
        // outside their domains: NaN, as IEEE arithmetic gives
        checkUnary(dt, Var::log, s(2), d(-1, 0), s(2), d(Double.NaN, Double.NEGATIVE_INFINITY));
        checkUnary(dt, Var::sqrt, s(1), d(-1), s(1), d(Double.NaN));
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void reductions(DType dt) {
        double[] x = d(1, 2, 3, 4, 5, 6); // [2,3]
        checkUnary(dt, v -> v.sum(0), s(2, 3), x, s(3), d(5, 7, 9));
        checkUnary(dt, v -> v.sum(1), s(2, 3), x, s(2), d(6, 15));
        checkUnary(dt, v -> v.sum(), s(2, 3), x, s(), d(21));
        checkUnary(dt, v -> v.sum(-1, 0), s(2, 3), x, s(), d(21));
        checkUnary(dt, v -> v.mean(1), s(2, 3), x, s(2), d(2, 5));
        checkUnary(dt, v -> v.reduceMax(new int[] {0}), s(2, 3), d(1, 9, 3, 4, 5, -6), s(3), d(4, 9, 3));
        checkUnary(dt, v -> v.reduceMax(new int[] {1}), s(2, 3), d(1, 9, 3, 4, 5, -6), s(2), d(9, 5));
        checkUnary(dt, v -> v.reduceMax(), s(2, 3), d(-1, -9, -3, -4, -5, -6), s(), d(-1));
        // [2,2,2] summed over the outer and inner axes: the kernel moves the reduced axes last
        checkUnary(dt, v -> v.sum(0, 2), s(2, 2, 2), d(1, 2, 3, 4, 5, 6, 7, 8), s(2), d(1 + 2 + 5 + 6, 3 + 4 + 7 + 8));
        checkUnary(dt, v -> v.reduceMax(new int[] {0, 2}), s(2, 2, 2), d(1, 2, 3, 4, 8, 6, 7, 5), s(2), d(8, 7));
        // no axes through the primitive itself: the identity
        checkUnary(dt, v -> v.builder().apply(new ReduceSum(new int[0]), v), s(2), d(1, 2), s(2), d(1, 2));
        // sum_of_products: a [2, 3] · b [3] summed over axis 1 (b repeats over a's axis 0), and over both axes
        double[] b = d(10, 20, 30);
        checkBinary(dt, (u, v) -> u.builder().apply(new SumOfProducts(1, 2), u, v), s(2, 3), x, s(3), b, s(2),
                d(10 + 40 + 90, 40 + 100 + 180));
        checkBinary(dt, (u, v) -> u.builder().apply(new SumOfProducts(0, 2), u, v), s(2, 3), x, s(2, 3), x, s(),
                d(1 + 4 + 9 + 16 + 25 + 36));
        // a [2, 2, 2] · b [2, 2] over the middle axis: out[i, k] = Σ_j a[i, j, k]·b[j, k]
        checkBinary(dt, (u, v) -> u.builder().apply(new SumOfProducts(1, 2), u, v), s(2, 2, 2),
                d(1, 2, 3, 4, 5, 6, 7, 8), s(2, 2), d(1, 10, 100, 1000), s(2, 2),
                d(1 + 300, 20 + 4000, 5 + 700, 60 + 8000));
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void layoutPrimitives(DType dt) {
        double[] x = d(1, 2, 3, 4, 5, 6); // [2,3]
        checkUnary(dt, v -> v.reshape(3, 2), s(2, 3), x, s(3, 2), x);
        checkUnary(dt, v -> v.reshape(-1), s(2, 3), x, s(6), x);
        checkUnary(dt, v -> v.reshape(1, -1, 2), s(2, 3), x, s(1, 3, 2), x);
        checkUnary(dt, v -> v.expandDims(0), s(2, 3), x, s(1, 2, 3), x);
        checkUnary(dt, v -> v.expandDims(-1), s(2, 3), x, s(2, 3, 1), x);
        checkUnary(dt, v -> v.transpose(1, 0), s(2, 3), x, s(3, 2), d(1, 4, 2, 5, 3, 6));
        // [2,3,2] -> perm [2,0,1] -> [2,2,3]: out[k][i][j] = x[i][j][k]
        checkUnary(dt, v -> v.transpose(2, 0, 1), s(2, 3, 2), d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), s(2, 2, 3),
                d(1, 3, 5, 7, 9, 11, 2, 4, 6, 8, 10, 12));
        checkUnary(dt, v -> v.broadcastInDim(s(2, 3), s(1)), s(3), d(7, 8, 9), s(2, 3), d(7, 8, 9, 7, 8, 9));
        checkUnary(dt, v -> v.broadcastInDim(s(2, 3), s(0)), s(2), d(7, 8), s(2, 3), d(7, 7, 7, 8, 8, 8));
        checkUnary(dt, v -> v.broadcastInDim(s(2, 2), s()), s(), d(4), s(2, 2), d(4, 4, 4, 4));
        checkUnary(dt, v -> v.broadcastInDim(s(2, 3, 2), s(0, 2)), s(2, 1), d(1, 2), s(2, 3, 2),
                d(1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2));
        checkUnary(dt, v -> v.broadcastTo(2, 2), s(2), d(1, 2), s(2, 2), d(1, 2, 1, 2));
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void dotGeneral(DType dt) {
        double[] a = d(1, 2, 3, 4, 5, 6); // [2,3]
        double[] b = d(1, 0, 2, 1, 0, 3); // [3,2]
        checkBinary(dt, Var::matmul, s(2, 3), a, s(3, 2), b, s(2, 2), d(5, 11, 14, 23));
        // batched: [2,1,2] x [2,2,1]: per-batch inner products
        checkBinary(dt, (l, r) -> l.dotGeneral(r, s(2), s(1), s(0), s(0)), s(2, 1, 2), d(1, 2, 3, 4), s(2, 2, 1),
                d(5, 6, 7, 8), s(2, 1, 1), d(17, 53));
        // outer product
        checkBinary(dt, (l, r) -> l.dotGeneral(r, s(), s(), s(), s()), s(2), d(1, 2), s(3), d(1, 10, 100), s(2, 3),
                d(1, 10, 100, 2, 20, 200));
    }

    @Test
    void reduceMaxSplitsTheDerivativeEvenlyBetweenTies() {
        // max over [1, 3, 3]: JAX's convention sends half of the derivative to each maximal entry
        Graph g = Fixtures.trace1(v -> v[0].reduceMax(new int[] {0}), new TensorType(DType.F64, 3));
        try (Tensor x = Fixtures.f64(d(1, 3, 3), 3);
             Tensor t = Fixtures.f64(d(1, 10, 100, 1, 1, 1), 2, 3);
             Tensor ct = Fixtures.f64(d(2, 6), 2)) {
            Tensor[] jv = Jvp.of(g, 2).evaluate(x, t);
            assertValues(jv[0], s(), d(3), 0);
            assertValues(jv[1], s(2), d(55, 1), 1e-15);
            Tensor[] vj = Vjp.of(g, 2).evaluate(x, ct);
            assertValues(vj[1], s(2, 3), d(0, 1, 1, 0, 3, 3), 1e-15);
            Fixtures.closeAll(jv);
            Fixtures.closeAll(vj);
        }
    }

    @Test
    void maxSendsTheDerivativeOfATieToTheSecondOperand() {
        Graph g = Fixtures.trace1(v -> v[0].max(v[1]), new TensorType(DType.F64, 2), new TensorType(DType.F64, 2));
        try (Tensor a = Fixtures.f64(d(1, 2), 2); Tensor b = Fixtures.f64(d(1, 1), 2);
             Tensor ta = Fixtures.f64(d(10, 20), 1, 2); Tensor tb = Fixtures.f64(d(30, 40), 1, 2)) {
            Tensor[] jv = Jvp.of(g, 1).evaluate(a, b, ta, tb);
            assertValues(jv[1], s(1, 2), d(30, 20), 0);
            Fixtures.closeAll(jv);
        }
    }
}
