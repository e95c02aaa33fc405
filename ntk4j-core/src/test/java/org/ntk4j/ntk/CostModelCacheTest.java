package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.ref.WeakReference;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The cost models AUTO and the tiled runs reuse were kept in a static cache of 64, which held their models (and
 * the layers' constants and the plans cached in them) reachable after the program was done with them, and which
 * {@link Model#releaseCaches} did not reach. They are now the model's own cache: released with its other caches,
 * and gone with the model.
 */
class CostModelCacheTest {
    private static final int[] IN = {5};

    @Test
    void costModelsAreReleasedWithTheModelsCaches() {
        Model m = Zoo.parse("fcn(depth=1,width=8,out=2)");
        long baseline = Tensor.liveBytes();
        try (Params p = m.init(1, IN, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 2, 4, 5)) {
            long withInputs = Tensor.liveBytes();
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p); // AUTO: chooses by the cost model
            try (Tensor k = ntk.kernel(KernelKind.parse("trace", 0), x, null)) {
                assertThat(k.shape()).containsExactly(4, 4);
            }
            CostModel first = ntk.costModel(4, 0, IN, DType.F64);
            assertThat(ntk.costModel(4, 0, IN, DType.F64)).isSameAs(first);
            m.releaseCaches();
            assertThat(Tensor.liveBytes()).isEqualTo(withInputs);
            assertThat(ntk.costModel(4, 0, IN, DType.F64)).as("made again after releaseCaches").isNotSameAs(first);
            m.releaseCaches();
        }
        assertThat(Tensor.liveBytes()).isEqualTo(baseline);
    }

    @Test
    void aModelTheProgramIsDoneWithIsNotHeldByItsCostModels() throws InterruptedException {
        WeakReference<Model> ref = useAndDrop();
        for (int i = 0; i < 50 && ref.get() != null; i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertThat(ref.get()).as("the model, collected once nothing but caches refers to it").isNull();
    }

    private static WeakReference<Model> useAndDrop() {
        Model m = Zoo.parse("fcn(depth=1,width=8,out=2)");
        try (Params p = m.init(1, IN, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 2, 4, 5);
             Tensor k = EmpiricalNtk.of(m, p).kernel(KernelKind.parse("trace", 0), x, null)) {
            assertThat(k.get(0, 0)).isPositive();
        }
        m.releaseCaches();
        return new WeakReference<>(m);
    }
}
