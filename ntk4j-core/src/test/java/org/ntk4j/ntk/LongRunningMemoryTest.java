package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.CachedTensors;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A long-running program that computes kernels for many batch sizes: the plan caches stay bounded, the constants of
 * the plans they drop are closed (they were left to the collector, so {@link Tensor#liveBytes()} grew by the
 * graphs' scalars with every dropped plan), and {@link Model#releaseCaches} brings the live bytes back to where
 * they were before the model was used. No reliance on the collector: everything is closed explicitly.
 */
class LongRunningMemoryTest {
    private static final int[] IN = {5};
    private static final int SIZES = 40;

    @Test
    void fortyBatchSizesKeepBoundedPlansAndReleaseReturnsToBaseline() {
        Model m = Zoo.parse("fcn(depth=2,width=8,out=2)");
        try (Params p = m.init(1, IN, DType.F64); Tensor train = Tensor.randomNormal(DType.F64, 1, 3, 5)) {
            long baseline = Tensor.liveBytes();
            long[] drift = new long[SIZES + 1];
            for (int n = 1; n <= SIZES; n++) {
                for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.STRUCTURED_DERIVATIVES,
                    Method.NTK_VECTOR_PRODUCTS}) {
                    EmpiricalNtk e = EmpiricalNtk.of(m, p).method(method);
                    try (Tensor x = Tensor.randomNormal(DType.F64, 100 + n, n, 5);
                         Tensor k = e.ntk(train, x); Tensor self = e.ntk(x, null);
                         Tensor f = m.apply(p, x)) {
                        assertThat(k.shape()).containsExactly(3, n);
                        assertThat(self.shape()).containsExactly(n, n);
                        assertThat(f.shape()).containsExactly(n, 2);
                    }
                }
                assertThat(CachedTensors.waiting()).as("owners waiting with no call in progress").isZero();
                drift[n] = Tensor.liveBytes() - baseline;
            }
            assertThat(SidePlan.cached(m)).hasSizeLessThanOrEqualTo(32);
            for (SidePlan s : SidePlan.cached(m)) {
                assertThat(s.plansHeld()).isLessThanOrEqualTo(3 * 32);
            }
            // once the caches are full, each new size drops as much as it adds: the drift stops growing
            for (int n = 33; n <= SIZES; n++) {
                assertThat(drift[n]).as("live bytes above the baseline after %d sizes (after 32: %d)", n, drift[32])
                        .isLessThanOrEqualTo(drift[32]);
            }
            assertThat(drift[SIZES]).isPositive(); // the cached plans do hold constants
            java.util.List<SidePlan> held = SidePlan.cached(m);
            assertThat(held).allSatisfy(s -> assertThat(s.openTensors()).isPositive());
            m.releaseCaches();
            assertThat(held).allSatisfy(s -> assertThat(s.openTensors()).isZero());
            assertThat(Tensor.liveBytes()).as("live bytes after releaseCaches").isEqualTo(baseline);
            assertThat(SidePlan.cached(m)).isEmpty();
            // the model is usable again, and rebuilds its plans
            try (Tensor x = Tensor.randomNormal(DType.F64, 7, 4, 5); Tensor k = EmpiricalNtk.of(m, p).ntk(x, null)) {
                assertThat(k.shape()).containsExactly(4, 4);
            }
            m.releaseCaches();
            assertThat(Tensor.liveBytes()).isEqualTo(baseline);
        }
    }

    /**
     * Layers that keep tensors for their life (a linearised model's θ0 per dtype and shape) and the models a kernel
     * kind wraps around the network (pntk's projection) survive the plans that traced them first: the plans of 40
     * sizes come and go, and the kernels stay right; releasing the model's caches releases the wrapped models'.
     */
    @Test
    void layerConstantsAndWrappedModelsOutliveTheDroppedPlans() {
        Model base = Zoo.parse("fcn(depth=1,width=6,out=3)");
        try (Params theta0 = base.init(2, IN, DType.F64)) {
            Model lin = org.ntk4j.nn.Linearized.linearize(base, theta0);
            KernelKind pntk = KernelKind.parse("pntk", 0);
            try (Params p = lin.init(3, IN, DType.F64)) {
                long baseline = Tensor.liveBytes();
                EmpiricalNtk e = EmpiricalNtk.of(lin, p);
                EmpiricalNtk reference = EmpiricalNtk.of(base, theta0);
                for (int n = 1; n <= SIZES; n++) {
                    // the linearised network's NTK is the base network's at θ0, whatever the parameters
                    try (Tensor x = Tensor.randomNormal(DType.F64, 300 + n, n, 5); Tensor k = e.ntk(x, null);
                         Tensor expected = reference.ntk(x, null); Tensor kp = e.kernel(pntk, x, null);
                         Tensor expectedP = reference.kernel(pntk, x, null)) {
                        assertThat(EmpiricalNtkTest.relativeError(k, expected)).as("n = %d", n).isLessThan(1e-12);
                        assertThat(EmpiricalNtkTest.relativeError(kp, expectedP)).as("pntk, n = %d", n)
                                .isLessThan(1e-12);
                    }
                }
                lin.releaseCaches();
                base.releaseCaches();
                // the linearised layer keeps θ0 in float64 for examples [5]: its one constant, for its life
                long theta0Bytes = base.paramSpecs(IN).stream().mapToLong(s -> 8L * s.size()).sum();
                assertThat(Tensor.liveBytes() - baseline).isEqualTo(theta0Bytes);
            }
        }
    }
}
