package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.graph.Graph;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.primitive.BroadcastInDim;
import org.ntk4j.primitive.ConvInputGrad;
import org.ntk4j.primitive.ConvInputGradMul;
import org.ntk4j.primitive.Mul;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Structured derivatives' passes without the stacked cotangents its plan does not read ({@link
 * SdPlan#unreadCotangents}): the joined biases' and the factored convolution's. On a pooled cnn the pass then
 * returns fewer values and forms one stacked product per layer (the masks meet their scales first, the pool's
 * broadcast is read in place, and below the top layer the product is the input gradient's own), refuses a
 * cotangent it left out by name, and the kernel equals Jacobian contraction's (which reads every cotangent, from
 * the full pass).
 */
class PlanPassTest {
    private static final Model CNN = Zoo.parse("cnn(depth=3,channels=6,out=4)");
    private static final int[] IN = {6, 6, 3};
    private static final int N = 5;

    /** Equations over the stacked shape [K, N, H, W, C] of a layer's cotangent, by primitive name. */
    private static long stacked(Graph g, Class<?> primitive, int[] shape) {
        return g.equations().stream().filter(e -> primitive.isInstance(e.primitive())
                && Arrays.equals(e.output().shape(), shape)).count();
    }

    @Test
    void thePlanLeavesOutTheCotangentsItDoesNotRead() {
        SidePlan side = SidePlan.of(CNN, N, IN, DType.F64);
        SdPlan plan = side.sdPlan(N, N, side.o, true, OutputPairs.FULL);
        // three convolutions with a bias each, a dense head with its bias: the three conv biases join their
        // filters, the last conv (before the pool) is factored
        java.util.List<String> unread = new java.util.ArrayList<>();
        for (int c : plan.unreadCotangents) {
            unread.add(side.pc.consumers.get(c).equation.primitive().name());
        }
        assertThat(unread).filteredOn("conv"::equals).hasSize(1);
        assertThat(unread).filteredOn("add"::equals).hasSizeGreaterThanOrEqualTo(3);
        Graph full = side.pass().graph;
        Graph reduced = side.pass(side.o, plan.unreadCotangents).graph;
        assertThat(reduced.outputs().size()).isLessThan(full.outputs().size());
        int[] layer = {side.o, N, 6, 6, 6};
        int[] merged = {side.o * N, 6, 6, 6}; // the stack merged into the batch, as conv_input_grad makes it
        // the full pass: mask then scale per layer (the bias's cotangent and the filter's are both returned), and
        // the pool's broadcast made whole; below the top layer the mask product is taken by the input gradient
        // that it reads (InputGradProducts), as it writes its rows
        assertThat(stacked(full, Mul.class, layer)).isEqualTo(4);
        assertThat(stacked(full, ConvInputGradMul.class, merged)).isEqualTo(2);
        assertThat(stacked(full, ConvInputGrad.class, merged)).isEqualTo(0);
        assertThat(stacked(full, BroadcastInDim.class, layer)).isEqualTo(0); // read in place there too
        assertThat(stacked(reduced, Mul.class, layer)).isEqualTo(1);
        assertThat(stacked(reduced, ConvInputGradMul.class, merged)).isEqualTo(2);
        long fullBytes = org.ntk4j.graph.GraphCost.peakBytes(full);
        assertThat(org.ntk4j.graph.GraphCost.peakBytes(reduced)).isLessThan(fullBytes);
    }

    @Test
    void aCotangentLeftOutIsRefusedByName() {
        SidePlan side = SidePlan.of(CNN, N, IN, DType.F64);
        SdPlan plan = side.sdPlan(N, N, side.o, true, OutputPairs.FULL);
        ParameterConsumers.Consumer left = side.pc.consumers.get(plan.unreadCotangents[0]);
        try (Params p = CNN.init(3, IN, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 4, Shapes.prepend(N, IN));
             PerExamplePass pass = new PerExamplePass(side, KernelSupport.paramArgs(p, CNN.paramSpecs(IN)), x, 0,
                     side.o, plan.unreadCotangents)) {
            assertThatThrownBy(() -> pass.delta(left)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("holds no cotangent at " + left.equation.output());
        }
    }

    @Test
    void kernelsOnThePlanPassesEqualJacobianContraction() {
        try (Params p = CNN.init(3, IN, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 4, Shapes.prepend(N, IN));
             Tensor x2 = Tensor.randomNormal(DType.F64, 5, Shapes.prepend(3, IN))) {
            for (Tensor second : new Tensor[] {null, x2}) {
                for (String kind : new String[] {"full", "trace", "diagonal"}) {
                    KernelKind k = KernelKind.parse(kind, 0);
                    EmpiricalNtk ntk = EmpiricalNtk.of(CNN, p);
                    try (Tensor sd = ntk.method(Method.STRUCTURED_DERIVATIVES).kernel(k, x1, second);
                         Tensor jc = ntk.method(Method.JACOBIAN_CONTRACTION).kernel(k, x1, second)) {
                        assertThat(Fixtures.relativeError(sd, jc)).as("%s, %s", kind,
                                second == null ? "x2 = x1" : "x2").isLessThan(1e-12);
                    }
                }
            }
        }
    }
}
