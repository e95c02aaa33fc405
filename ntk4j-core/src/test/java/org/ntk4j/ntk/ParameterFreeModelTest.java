package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A model without parameters (stax's parameter-free LayerNorm alone, {@link Layers#layerNormStax()}, or an
 * activation alone): its Jacobian is empty, so its eNTK is exactly 0, full and traced, x2 = x1 and not, by every
 * method, and so is Θ·v. NTK-vector products failed with an ArrayIndexOutOfBoundsException (a JVP with no
 * parameter tangent to stack) where the other methods gave the zeros.
 */
class ParameterFreeModelTest {
    @Test
    void everyMethodGivesTheZeroKernelOfAModelWithoutParameters() {
        Model[] models = {new Model(Layers.serial(Layers.layerNormStax()), "stax-layer-norm"),
            new Model(Layers.serial(Layers.relu()), "relu")};
        for (Model m : models) {
            for (DType dtype : DType.values()) {
                try (Params p = m.init(1, new int[] {5}, dtype);
                     Tensor x1 = Tensor.randomNormal(dtype, 3, 4, 5);
                     Tensor x2 = Tensor.randomNormal(dtype, 4, 2, 5);
                     Tensor v = Tensor.randomNormal(dtype, 5, 2, 5)) {
                    assertThat(p.tensors()).as("%s: no parameters", m).isEmpty();
                    for (Method method : Method.values()) {
                        EmpiricalNtk e = EmpiricalNtk.of(m, p).method(method);
                        for (Tensor second : new Tensor[] {null, x2}) {
                            int n2 = second == null ? 4 : 2;
                            try (Tensor traced = e.ntk(x1, second); Tensor full = e.traceAxes().ntk(x1, second)) {
                                String what = m + " " + dtype + " " + method + (second == null ? " x2 = x1" : "");
                                assertThat(traced.shape()).as(what).containsExactly(4, n2);
                                assertThat(full.shape()).as(what).containsExactly(4, n2, 5, 5);
                                assertThat(traced.toDoubleArray()).as(what).containsOnly(0.0);
                                assertThat(full.toDoubleArray()).as(what).containsOnly(0.0);
                            }
                        }
                        try (Tensor product = e.ntkVectorProduct(x1, x2, v)) {
                            assertThat(product.shape()).as("%s %s Θ·v", m, method).containsExactly(4, 5);
                            assertThat(product.toDoubleArray()).as("%s %s Θ·v", m, method).containsOnly(0.0);
                        }
                    }
                }
            }
        }
    }
}
