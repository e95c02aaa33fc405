package org.ntk4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphBuilder;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The derivative checks trace a JVP and a VJP per call, whose rules allocate constants (tanh's 1 − y², the scalar
 * of x · 3): they stayed open after each call, so the live bytes of a long-running program checking its primitives
 * grew with every check. They now return to where they were, also when a check throws.
 */
class DerivativeCheckReleaseTest {
    /** y = 3 tanh(x) + x², z = exp(x) − 0.5: rules and scalars that allocate constants when traced. */
    private static Graph graph(DType dtype) {
        GraphBuilder b = new GraphBuilder();
        Var x = b.input(dtype, 2, 3);
        return b.build(x.tanh().mul(3).add(x.square()), x.exp().add(-0.5));
    }

    @Test
    void eachCheckLeavesTheLiveBytesWhereTheyWere() {
        Graph g = graph(DType.F64);
        Tensor[] x = DerivativeCheck.randomInputs(g, 5);
        try {
            long baseline = Tensor.liveBytes();
            // the checks still check: tanh, square and exp have their rules right
            assertThat(DerivativeCheck.jvpVersusFiniteDifferences(g, x, 3, 1e-6, 1)).isLessThan(1e-7);
            assertThat(Tensor.liveBytes()).as("after jvpVersusFiniteDifferences").isEqualTo(baseline);
            assertThat(DerivativeCheck.adjointGap(g, x, 3, 2)).isLessThan(1e-12);
            assertThat(Tensor.liveBytes()).as("after adjointGap").isEqualTo(baseline);
            assertThat(DerivativeCheck.stackingGap(g, x, 3, 3)).isLessThan(1e-12);
            assertThat(Tensor.liveBytes()).as("after stackingGap").isEqualTo(baseline);
            // a check that throws half way (inputs of the wrong shape) leaves nothing either
            Tensor[] wrong = {Tensor.zeros(DType.F64, 4, 3)};
            try {
                assertThatThrownBy(() -> DerivativeCheck.stackingGap(g, wrong, 2, 4)).isInstanceOf(
                        RuntimeException.class);
            } finally {
                wrong[0].close();
            }
            assertThat(Tensor.liveBytes()).as("after a check that threw").isEqualTo(baseline);
        } finally {
            for (Tensor t : x) {
                t.close();
            }
        }
    }
}
