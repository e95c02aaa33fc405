package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The plans are built once: after a first kernel, a repeated kernel of the same shapes — any method, AUTO, a
 * projection kind, a tiled run — traces the model no more ({@link Model#traceCount()} stays put), and gives the
 * same numbers bit for bit.
 */
class PlanCacheTest {
    @Test
    void aRepeatedKernelTracesNothing() {
        Model m = Zoo.parse("fcn(depth=2,width=16,out=3)");
        int[] in = {5};
        Params p = m.init(1, in, DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 2, 6, 5);
        Tensor x2 = Tensor.randomNormal(DType.F64, 3, 4, 5);
        EmpiricalNtk base = EmpiricalNtk.of(m, p).traceAxes();
        for (Method method : Method.values()) {
            EmpiricalNtk e = base.method(method);
            for (Tensor second : new Tensor[] {x2, null}) {
                try (Tensor first = e.ntk(x1, second)) {
                    long before = Model.traceCount();
                    try (Tensor again = e.ntk(x1, second)) {
                        assertThat(Model.traceCount()).as("%s, x2 %s", method, second == null ? "= x1" : "given")
                                .isEqualTo(before);
                        assertThat(EmpiricalNtkTest.relativeError(again, first)).isZero();
                    }
                }
            }
        }
        for (String kind : new String[] {"pntk", "logit:1", "probes:2", "projected:8", "diagonal"}) {
            KernelKind k = KernelKind.parse(kind, 7);
            try (Tensor first = base.kernel(k, x1, x2)) {
                long before = Model.traceCount();
                try (Tensor again = base.kernel(k, x1, x2)) {
                    assertThat(Model.traceCount()).as(kind).isEqualTo(before);
                    assertThat(EmpiricalNtkTest.relativeError(again, first)).isZero();
                }
            }
        }
    }
}
