package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.primitive.ConsumerRule;
import org.ntk4j.primitive.DotGeneral;
import org.ntk4j.primitive.Primitive;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.tensor.TensorScope;

/**
 * Memory by scope: a kernel that throws half way leaks nothing. A matmul primitive whose evaluations and consumer
 * rule's factors (read while the kernel's accumulator and the passes are held) fail at the k-th step, for every k
 * from the first forward pass to the last parameter's contraction: each time the call throws and the live
 * off-heap bytes are back where they were before it.
 */
class ScopeFailureTest {
    /** Throws at the evaluation numbered {@code failAt} (counting from 1); evaluates as x·W otherwise. */
    private static final class Failing implements Primitive {
        private final DotGeneral inner = new DotGeneral(new int[] {1}, new int[] {0}, new int[0], new int[0]);
        final AtomicInteger calls = new AtomicInteger();
        volatile int failAt = Integer.MAX_VALUE;

        @Override
        public String name() {
            return "failing_matmul";
        }

        @Override
        public TensorType outputType(TensorType... inputs) {
            return inner.outputType(inputs);
        }

        @Override
        public Tensor evaluate(Tensor... inputs) {
            step();
            return inner.evaluate(inputs);
        }

        @Override
        public Var jvp(Var[] primals, Var out, Var[] tangents, int k) {
            return inner.jvp(primals, out, tangents, k);
        }

        @Override
        public Var[] vjp(Var[] primals, Var out, Var cotangent, boolean[] needed) {
            return inner.vjp(primals, out, cotangent, needed);
        }

        /** dot_general's rule, its factors counted with the evaluations (so failures reach the contractions). */
        @Override
        public ConsumerRule consumerRule(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
            ConsumerRule.Linear r = (ConsumerRule.Linear) inner.consumerRule(inputs, output, operand, constants);
            if (r == null) {
                return null;
            }
            return new ConsumerRule.Linear(r.dataAxes(), r.featureAxes(), r.positions(), r.fanIn(), r.features()) {
                @Override
                public Tensor data(Tensor data) {
                    step();
                    return r.data(data);
                }

                @Override
                public Tensor cotangent(Tensor cotangent) {
                    step();
                    return r.cotangent(cotangent);
                }
            };
        }

        private void step() {
            if (calls.incrementAndGet() == failAt) {
                throw new IllegalStateException("injected failure at step " + failAt);
            }
        }
    }

    @Test
    void aKernelThatThrowsHalfWayLeaksNothing() {
        Failing failing = new Failing();
        Model m = org.ntk4j.Fixtures.twoLayerModel(failing, "failing");
        int[] shape = {4};
        Params p = m.init(5, shape, DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 1, 3, 4);
        Tensor x2 = Tensor.randomNormal(DType.F64, 2, 2, 4);
        for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
            Method.STRUCTURED_DERIVATIVES}) {
            EmpiricalNtk e = EmpiricalNtk.of(m, p).traceAxes().method(method);
            failing.failAt = Integer.MAX_VALUE;
            failing.calls.set(0);
            e.ntk(x1, x2).close(); // plans built; counts the evaluations of one whole call
            int total = failing.calls.get();
            assertThat(total).as("%s: steps of the failing primitive per call", method).isGreaterThan(2);
            for (int k = 1; k <= total; k++) {
                failing.calls.set(0);
                failing.failAt = k;
                long before = Tensor.liveBytes();
                assertThatThrownBy(() -> e.ntk(x1, x2)).as("%s, failure at %d", method, k)
                        .hasMessageContaining("injected failure");
                assertThat(Tensor.liveBytes()).as("%s, failure at step %d of %d: live bytes", method, k, total)
                        .isEqualTo(before);
            }
        }
    }

    @Test
    void aScopeFreesWhatItDoesNotKeepAndHandsKeptTensorsToItsParent() {
        long before = Tensor.liveBytes();
        Tensor kept;
        try (TensorScope outer = TensorScope.open()) {
            try (TensorScope inner = TensorScope.open()) {
                Tensor.zeros(DType.F32, 100);
                kept = inner.keep(Tensor.zeros(DType.F32, 10));
                assertThat(inner.openTensors()).isEqualTo(1);
            }
            assertThat(kept.isClosed()).isFalse();
            assertThat(Tensor.liveBytes() - before).isEqualTo(40);
            outer.keep(kept);
        }
        assertThat(kept.isClosed()).isFalse();
        kept.close();
        assertThat(Tensor.liveBytes()).isEqualTo(before);
        try (TensorScope s = TensorScope.open()) {
            Tensor cached = TensorScope.unscoped(() -> Tensor.zeros(DType.F32, 5));
            assertThat(s.openTensors()).isZero();
            cached.close();
        }
    }
}
