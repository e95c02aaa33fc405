package org.ntk4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.Fixtures.assertValues;
import static org.ntk4j.Fixtures.d;
import static org.ntk4j.Fixtures.s;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The JVP and VJP transformations on awkward graphs: inputs that do not reach the outputs, repeated outputs,
 * outputs that are inputs or constants, and tangents or cotangents for a subset of the inputs.
 */
class JvpVjpTest {
    private static final TensorType T2 = new TensorType(DType.F64, 2);
    private static final double[] X = {0.3, -1.2};
    private static final double[] Y = {2.0, 0.7};
    // K = 2 stacked vectors for x and y, and cotangents for the outputs
    private static final double[] TX = {1, 2, -1, 0.5};
    private static final double[] TY = {3, -4, 5, 6};
    private static final double[] C1 = {1, -1, 2, 3};
    private static final double[] C2 = {0.5, 4, -2, 1};

    private static Tensor t(double[] v, int... shape) {
        return Fixtures.f64(v, shape);
    }

    /** v ∘ f(x) on K = 2 stacked rows of length 2. */
    private static double[] rowsTimes(double[] v, double[] f) {
        return d(v[0] * f[0], v[1] * f[1], v[2] * f[0], v[3] * f[1]);
    }

    private static double[] cos(double[] x) {
        return d(Math.cos(x[0]), Math.cos(x[1]));
    }

    @Test
    void anInputThatDoesNotReachTheOutputGetsZeros() {
        Graph g = Graph.trace(List.of(T2, T2), v -> new Var[] {v[0].sin()});
        try (Tensor x = t(X, 2); Tensor y = t(Y, 2); Tensor tx = t(TX, 2, 2); Tensor ty = t(TY, 2, 2);
             Tensor c = t(C1, 2, 2)) {
            Tensor[] jv = Jvp.of(g, 2).evaluate(x, y, tx, ty);
            assertValues(jv[1], s(2, 2), rowsTimes(TX, cos(X)), 1e-15);
            Tensor[] onlyY = Jvp.of(g, 2, new boolean[] {false, true}).evaluate(x, y, ty);
            assertValues(onlyY[1], s(2, 2), new double[4], 0);
            Tensor[] vj = Vjp.of(g, 2).evaluate(x, y, c);
            assertValues(vj[1], s(2, 2), rowsTimes(C1, cos(X)), 1e-15);
            assertValues(vj[2], s(2, 2), new double[4], 0);
            Fixtures.closeAll(jv);
            Fixtures.closeAll(onlyY);
            Fixtures.closeAll(vj);
        }
    }

    @Test
    void repeatedOutputsGetTheSameTangentAndTheirCotangentsAdd() {
        Graph g = Graph.trace(List.of(T2), v -> {
            Var s = v[0].sin();
            return new Var[] {s, s};
        });
        try (Tensor x = t(X, 2); Tensor tx = t(TX, 2, 2); Tensor c1 = t(C1, 2, 2); Tensor c2 = t(C2, 2, 2)) {
            Tensor[] jv = Jvp.of(g, 2).evaluate(x, tx);
            assertThat(jv).hasSize(4);
            assertValues(jv[2], s(2, 2), rowsTimes(TX, cos(X)), 1e-15);
            assertValues(jv[3], s(2, 2), rowsTimes(TX, cos(X)), 1e-15);
            assertThat(jv[2]).isNotSameAs(jv[3]);
            Tensor[] vj = Vjp.of(g, 2).evaluate(x, c1, c2);
            double[] sum = new double[4];
            for (int i = 0; i < 4; i++) {
                sum[i] = C1[i] + C2[i];
            }
            assertValues(vj[2], s(2, 2), rowsTimes(sum, cos(X)), 1e-15);
            Fixtures.closeAll(jv);
            Fixtures.closeAll(vj);
        }
    }

    @Test
    void anOutputThatIsAnInput() {
        Graph g = Graph.trace(List.of(T2), v -> new Var[] {v[0], v[0].sin()});
        try (Tensor x = t(X, 2); Tensor tx = t(TX, 2, 2); Tensor c1 = t(C1, 2, 2); Tensor c2 = t(C2, 2, 2)) {
            Tensor[] jv = Jvp.of(g, 2).evaluate(x, tx);
            assertValues(jv[0], s(2), X, 0);
            assertValues(jv[2], s(2, 2), TX, 0);
            assertThat(jv[2]).isNotSameAs(tx);
            Tensor[] vj = Vjp.of(g, 2).evaluate(x, c1, c2);
            double[] expected = rowsTimes(C2, cos(X));
            for (int i = 0; i < 4; i++) {
                expected[i] += C1[i];
            }
            assertValues(vj[2], s(2, 2), expected, 1e-15);
            Fixtures.closeAll(jv);
            Fixtures.closeAll(vj);
        }
        // the identity graph, with and without the input selected
        Graph id = Graph.trace(List.of(T2), v -> new Var[] {v[0]});
        try (Tensor x = t(X, 2); Tensor tx = t(TX, 2, 2); Tensor c = t(C1, 2, 2)) {
            Tensor[] jv = Jvp.of(id, 2).evaluate(x, tx);
            assertValues(jv[1], s(2, 2), TX, 0);
            Tensor[] vj = Vjp.of(id, 2).evaluate(x, c);
            assertValues(vj[1], s(2, 2), C1, 0);
            Tensor[] none = Jvp.of(id, 2, new boolean[] {false}).evaluate(x);
            assertValues(none[1], s(2, 2), new double[4], 0);
            Fixtures.closeAll(jv);
            Fixtures.closeAll(vj);
            Fixtures.closeAll(none);
        }
    }

    @Test
    void outputsThatDependOnNoInput() {
        Tensor k = t(d(1, 2), 2);
        Graph g = Graph.trace(List.of(T2), v -> {
            Var c = v[0].builder().constant(k);
            return new Var[] {c, c.exp(), v[0].mul(c)};
        });
        try (Tensor x = t(X, 2); Tensor tx = t(TX, 2, 2); Tensor c1 = t(C1, 2, 2); Tensor c2 = t(C2, 2, 2);
             Tensor c3 = t(TY, 2, 2)) {
            Tensor[] jv = Jvp.of(g, 2).evaluate(x, tx);
            assertValues(jv[1], s(2), d(Math.exp(1), Math.exp(2)), 1e-15);
            assertValues(jv[3], s(2, 2), new double[4], 0);
            assertValues(jv[4], s(2, 2), new double[4], 0);
            assertValues(jv[5], s(2, 2), rowsTimes(TX, d(1, 2)), 0);
            Tensor[] vj = Vjp.of(g, 2).evaluate(x, c1, c2, c3);
            // only the third output depends on x
            assertValues(vj[3], s(2, 2), rowsTimes(TY, d(1, 2)), 0);
            Fixtures.closeAll(jv);
            Fixtures.closeAll(vj);
        }
        k.close();
    }

    @Test
    void tangentsAndCotangentsForASubsetOfInputs() {
        Graph g = Graph.trace(List.of(T2, T2), v -> new Var[] {v[0].mul(v[1]).add(v[1].exp())});
        double[] expY = d(Math.exp(Y[0]), Math.exp(Y[1]));
        double[] dy = d(X[0] + expY[0], X[1] + expY[1]);
        try (Tensor x = t(X, 2); Tensor y = t(Y, 2); Tensor tx = t(TX, 2, 2); Tensor ty = t(TY, 2, 2);
             Tensor c = t(C1, 2, 2)) {
            Tensor[] jx = Jvp.of(g, 2, new boolean[] {true, false}).evaluate(x, y, tx);
            assertValues(jx[1], s(2, 2), rowsTimes(TX, Y), 1e-15);
            Tensor[] jy = Jvp.of(g, 2, new boolean[] {false, true}).evaluate(x, y, ty);
            assertValues(jy[1], s(2, 2), rowsTimes(TY, dy), 1e-14);
            Tensor[] vx = Vjp.of(g, 2, new boolean[] {true, false}).evaluate(x, y, c);
            assertThat(vx).hasSize(2);
            assertValues(vx[1], s(2, 2), rowsTimes(C1, Y), 1e-15);
            Tensor[] vy = Vjp.of(g, 2, new boolean[] {false, true}).evaluate(x, y, c);
            assertValues(vy[1], s(2, 2), rowsTimes(C1, dy), 1e-14);
            Tensor[] none = Vjp.of(g, 2, new boolean[] {false, false}).evaluate(x, y, c);
            assertThat(none).hasSize(1);
            Fixtures.closeAll(jx);
            Fixtures.closeAll(jy);
            Fixtures.closeAll(vx);
            Fixtures.closeAll(vy);
            Fixtures.closeAll(none);
        }
    }

    @Test
    void theVjpTransposesOnlyEquationsOnAPathFromASelectedInput() {
        // exp(y) does not depend on x: asking for x̄ alone must not transpose it (its VJP would multiply by exp y)
        Graph g = Graph.trace(List.of(T2, T2), v -> new Var[] {v[0].sin().add(v[1].exp())});
        Graph vx = Vjp.of(g, 2, new boolean[] {true, false});
        Graph both = Vjp.of(g, 2);
        assertThat(vx.equations().size()).isLessThan(both.equations().size());
        long muls = vx.equations().stream().filter(e -> e.primitive().name().equals("mul")).count();
        assertThat(muls).as("one mul: the cotangent times cos x").isEqualTo(1);
    }

    @Test
    void transformedGraphsKeepThePrimalOutputsFirst() {
        Graph g = Graph.trace(List.of(T2), v -> new Var[] {v[0].tanh(), v[0].sum()});
        Graph jvp = Jvp.of(g, 3);
        Graph vjp = Vjp.of(g, 3);
        assertThat(jvp.inputs()).hasSize(2);
        assertThat(jvp.inputs().get(1).shape()).containsExactly(3, 2);
        assertThat(jvp.outputs()).hasSize(4);
        assertThat(jvp.outputs().get(2).shape()).containsExactly(3, 2);
        assertThat(jvp.outputs().get(3).shape()).containsExactly(3);
        assertThat(vjp.inputs()).hasSize(3);
        assertThat(vjp.inputs().get(1).shape()).containsExactly(3, 2);
        assertThat(vjp.inputs().get(2).shape()).containsExactly(3);
        assertThat(vjp.outputs()).hasSize(3);
        assertThat(vjp.outputs().get(2).shape()).containsExactly(3, 2);
    }
}
