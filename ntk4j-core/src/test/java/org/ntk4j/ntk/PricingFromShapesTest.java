package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link EmpiricalNtk#ofShapes} prices a model from its shapes: every cost, plan and refusal is that of
 * {@link EmpiricalNtk#of} with parameters, nothing of the parameters' size is allocated, and a kernel is refused.
 */
class PricingFromShapesTest {
    private static final String SPEC = "fcn(depth=2,width=24,out=4)";
    private static final int[] EXAMPLE = {6};

    /** A question's answer as text: the estimate's method, FLOPs, peak and note, or the refusal's message. */
    private static String answer(Function<EmpiricalNtk, Object> question, EmpiricalNtk ntk) {
        try {
            Object a = question.apply(ntk);
            if (a instanceof CostModel.Estimate e) {
                return e.method() + " " + e.flops() + " " + e.peakBytes() + " " + e.note();
            }
            return String.valueOf(a);
        } catch (IllegalArgumentException e) {
            return "refused: " + e.getMessage();
        }
    }

    @Test
    void everyCostPlanAndRefusalIsThatOfTheKernelWithParameters() {
        List<Function<EmpiricalNtk, Object>> questions = new ArrayList<>();
        for (int n2 : new int[] {0, 5}) {
            questions.add(e -> e.plannedEstimate(7, n2, EXAMPLE, DType.F64));
            questions.add(e -> e.resolveMethod(7, n2, EXAMPLE, DType.F64));
            questions.add(e -> e.nngpEstimate(7, n2, EXAMPLE, DType.F32));
            questions.add(e -> e.forKind(KernelKind.parse("pntk", 3), EXAMPLE).costModel(7, n2, EXAMPLE, DType.F64)
                    .planned(e.method(), e.memoryBudget()));
            questions.add(e -> KernelJob.sketchedInMemory(e, KernelKind.parse("projected:4", 1), 7, n2, EXAMPLE,
                    DType.F64));
            questions.add(e -> e.forTiles(KernelKind.full(), 7, n2, EXAMPLE, DType.F64).method());
            questions.add(e -> TilePlanner.of(e, KernelKind.parse("trace", 0)).plan(40, n2, EXAMPLE, DType.F64));
        }
        // budgets from ample to too small for anything; AUTO and each explicit method
        long[] budgets = {1L << 30, 96 << 10, 24 << 10, 2 << 10};
        Method[] methods = {Method.AUTO, Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
            Method.STRUCTURED_DERIVATIVES};
        int refusals = 0;
        // separate model objects: each prices afresh (the cost models are cached per model object)
        Model withParams = Zoo.parse(SPEC);
        Model shapesOnly = Zoo.parse(SPEC);
        try (Params p = withParams.init(2, EXAMPLE, DType.F64)) {
            for (long budget : budgets) {
                for (Method m : methods) {
                    for (Function<EmpiricalNtk, Object> q : questions) {
                        String expected = answer(q, EmpiricalNtk.of(withParams, p).method(m).memoryBudget(budget));
                        assertThat(answer(q, EmpiricalNtk.ofShapes(shapesOnly).method(m).memoryBudget(budget)))
                                .as("budget %d, method %s", budget, m).isEqualTo(expected);
                        refusals += expected.startsWith("refused: ") ? 1 : 0;
                    }
                }
            }
        }
        assertThat(refusals).as("refusals compared").isGreaterThan(10);
    }

    /**
     * A model whose parameters take a quarter of the JVM's limit for tensors (1.5 GiB under a 6 GiB heap) is priced
     * without allocating them: before ofShapes, a width study's check allocated them as zeros to price them.
     */
    @Test
    void aLargeModelIsPricedWithoutAllocatingItsParameters() {
        long limit = org.bytedeco.javacpp.Pointer.maxBytes();
        int width = (int) Math.sqrt(limit / 4.0 / 2 / DType.F32.bytes()); // two width × width weights: limit / 4
        Model net = new Model(Layers.serial(new Layer[] {Layers.dense(width), Layers.relu(), Layers.dense(width),
            Layers.relu(), Layers.dense(width), Layers.relu(), Layers.dense(3)}), "wide-fcn");
        long paramBytes = 0;
        for (org.ntk4j.nn.ParamSpec s : net.requireParamsFit(EXAMPLE, DType.F32)) {
            paramBytes += (long) s.size() * DType.F32.bytes();
        }
        assertThat(paramBytes).isGreaterThan(limit / 5);
        long before = Tensor.liveBytes();
        Tensor.resetPeakBytes();
        long t0 = System.nanoTime();
        EmpiricalNtk priced = EmpiricalNtk.ofShapes(net).method(Method.JACOBIAN_CONTRACTION).memoryBudget(1 << 20);
        assertThatThrownBy(() -> priced.plannedEstimate(4, 0, EXAMPLE, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("memory budget: ");
        // the least budget named counts the parameters
        assertThat(priced.costModel(4, 0, EXAMPLE, DType.F32).leastBudget(Method.JACOBIAN_CONTRACTION))
                .isGreaterThan(paramBytes);
        assertThatThrownBy(() -> KernelJob.sketchedInMemory(priced, KernelKind.parse("projected:2", 0), 4, 0,
                EXAMPLE, DType.F32)).hasMessageStartingWith("memory budget: 1.0 MiB is too small for the projected:2 "
                + "kernel of 4 × 4 examples");
        assertThat(Tensor.peakBytes() - before).as("bytes of tensors allocated to price").isLessThan(1 << 20);
        assertThat(System.nanoTime() - t0).as("nanoseconds to price").isLessThan(2_000_000_000L);
        net.releaseCaches();
    }

    @Test
    void aKernelOfTheShapesOnlyInstanceIsRefused() {
        Model net = Zoo.parse(SPEC);
        EmpiricalNtk priced = EmpiricalNtk.ofShapes(net);
        String message = "this EmpiricalNtk of " + net.spec() + " has no parameters (EmpiricalNtk.ofShapes: costs "
                + "and plans only); compute kernels with EmpiricalNtk.of(model, params)";
        try (Tensor x = Tensor.randomNormal(DType.F64, 1, 3, 6)) {
            assertThatThrownBy(() -> priced.ntk(x, null)).isInstanceOf(IllegalStateException.class)
                    .hasMessage(message);
            assertThatThrownBy(() -> priced.nngp(x, null)).isInstanceOf(IllegalStateException.class)
                    .hasMessage(message);
            assertThatThrownBy(() -> priced.kernel(KernelKind.parse("pntk", 0), x, null))
                    .isInstanceOf(IllegalStateException.class).hasMessage(message);
            assertThatThrownBy(() -> priced.forTiles(KernelKind.full(), 3, 0, EXAMPLE, DType.F64).prepare(x))
                    .isInstanceOf(IllegalStateException.class).hasMessage(message);
        }
        assertThatThrownBy(() -> EmpiricalNtk.ofShapes(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("model: must not be null");
    }

    /** init and a pricing command refuse parameters beyond the JVM's limit with one check, in the same words. */
    @Test
    void requireParamsFitRefusesAsInitDoesWithoutAllocating() {
        long limit = org.bytedeco.javacpp.Pointer.maxBytes();
        int width = 40_000; // 1.6e9 weights per layer: under 2^31 elements each
        int count = (int) (limit / (8.0 * width * width)) + 2;
        Layer[] layers = new Layer[count];
        java.util.Arrays.fill(layers, Layers.dense(width));
        Model m = new Model(Layers.serial(layers), "wide-net");
        int[] in = {width};
        long before = Tensor.liveBytes();
        Tensor.resetPeakBytes();
        String refusal = null;
        try {
            m.requireParamsFit(in, DType.F64);
        } catch (IllegalArgumentException e) {
            refusal = e.getMessage();
        }
        assertThat(refusal).startsWith("model 'wide-net': its ").endsWith("; use a smaller model");
        assertThatThrownBy(() -> m.init(0, in, DType.F64)).hasMessage(refusal);
        assertThat(Tensor.peakBytes()).isEqualTo(before);
    }
}
