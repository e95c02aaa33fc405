package org.ntk4j.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** A small MLP-like graph traced and run in float32 agrees with the same graph in float64. */
class Float32VersusFloat64Test {
    private static final int BATCH = 8;
    private static final int IN = 5;
    private static final int HIDDEN = 16;
    private static final int OUT = 3;

    private static Graph mlp(DType dt) {
        List<TensorType> types = List.of(new TensorType(dt, BATCH, IN), new TensorType(dt, IN, HIDDEN),
                new TensorType(dt, HIDDEN), new TensorType(dt, HIDDEN, OUT), new TensorType(dt, OUT));
        return Graph.trace(types, v -> {
            Var h1 = v[0].matmul(v[1]).mul(1 / Math.sqrt(IN)).add(v[2]).tanh();
            Var h2 = h1.matmul(v[3]).mul(1 / Math.sqrt(HIDDEN)).add(v[4]);
            Var a = h2.softplus().add(h2.sigmoid()).add(h2.erf());
            // a log-sum-exp readout and a normalised copy: reductions, broadcasts, div and sqrt
            Var m = a.reduceMax(new int[] {1});
            Var lse = a.sub(m.reshape(BATCH, 1)).exp().sum(1).log().add(m);
            Var norm = a.div(a.square().sum(1).add(1.0).sqrt().reshape(BATCH, 1));
            return new Var[] {lse, norm};
        });
    }

    private static double relErr(Tensor f32, Tensor f64) {
        assertThat(f32.dtype()).isEqualTo(DType.F32);
        assertThat(f64.dtype()).isEqualTo(DType.F64);
        assertThat(f32.shape()).containsExactly(f64.shape());
        return Fixtures.relativeError(f32.toDoubleArray(), f64.toDoubleArray(), 1e-30);
    }

    @Test
    void forwardJvpAndVjpAgree() {
        Graph g64 = mlp(DType.F64);
        Graph g32 = mlp(DType.F32);
        Tensor[] x64 = org.ntk4j.autodiff.DerivativeCheck.randomInputs(g64, 42);
        List<Tensor> owned = new ArrayList<>(List.of(x64));
        Tensor[] x32 = new Tensor[x64.length];
        for (int i = 0; i < x64.length; i++) {
            x32[i] = x64[i].to(DType.F32);
            // the f64 run uses the float-rounded inputs too, so that only the arithmetic differs
            x64[i] = x32[i].to(DType.F64);
            owned.add(x32[i]);
            owned.add(x64[i]);
        }
        Tensor[] y64 = g64.evaluate(x64);
        Tensor[] y32 = g32.evaluate(x32);
        for (int j = 0; j < y64.length; j++) {
            assertThat(relErr(y32[j], y64[j])).as("output %d", j).isLessThanOrEqualTo(1e-5);
        }
        // K = 4 stacked tangents and cotangents
        int k = 4;
        Tensor[] in64 = new Tensor[x64.length * 2];
        Tensor[] in32 = new Tensor[x64.length * 2];
        for (int i = 0; i < x64.length; i++) {
            in64[i] = x64[i];
            in32[i] = x32[i];
            Tensor t = Tensor.randomNormal(DType.F32, 100 + i, org.ntk4j.tensor.Shapes.prepend(k, x64[i].shape()));
            in32[x64.length + i] = t;
            in64[x64.length + i] = t.to(DType.F64);
            owned.add(t);
            owned.add(in64[x64.length + i]);
        }
        Tensor[] jv64 = Jvp.of(g64, k).evaluate(in64);
        Tensor[] jv32 = Jvp.of(g32, k).evaluate(in32);
        for (int j = 0; j < jv64.length; j++) {
            assertThat(relErr(jv32[j], jv64[j])).as("jvp output %d", j).isLessThanOrEqualTo(1e-5);
        }
        Tensor[] c32 = new Tensor[x32.length + y64.length];
        Tensor[] c64 = new Tensor[x64.length + y64.length];
        System.arraycopy(x32, 0, c32, 0, x32.length);
        System.arraycopy(x64, 0, c64, 0, x64.length);
        for (int j = 0; j < y64.length; j++) {
            Tensor c = Tensor.randomNormal(DType.F32, 200 + j, org.ntk4j.tensor.Shapes.prepend(k, y64[j].shape()));
            c32[x32.length + j] = c;
            c64[x64.length + j] = c.to(DType.F64);
            owned.add(c);
            owned.add(c64[x64.length + j]);
        }
        Tensor[] vj64 = Vjp.of(g64, k).evaluate(c64);
        Tensor[] vj32 = Vjp.of(g32, k).evaluate(c32);
        for (int j = 0; j < vj64.length; j++) {
            assertThat(relErr(vj32[j], vj64[j])).as("vjp output %d", j).isLessThanOrEqualTo(1e-5);
        }
        // and the two precisions really differ, so the comparison is not vacuous
        assertThat(relErr(y32[0], y64[0])).isGreaterThan(0);
        for (Tensor[] ts : List.of(y64, y32, jv64, jv32, vj64, vj32)) {
            Fixtures.closeAll(ts);
        }
        owned.forEach(Tensor::close);
    }
}
