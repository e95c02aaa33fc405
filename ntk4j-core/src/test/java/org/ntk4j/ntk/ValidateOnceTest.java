package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.FloatBuffer;
import org.junit.jupiter.api.Test;
import java.util.List;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Parameters are scanned for NaN/Inf once, not on every kernel call (Tensor.knownFinite), and no write is
 * missed: through setFlat after the scan, through a buffer taken after it, or through one taken before it (a
 * tensor whose storage was ever handed out raw is scanned every time). The kernels read the parameters through
 * read views, which leave them known finite, own nothing and count no bytes.
 */
class ValidateOnceTest {
    private static final int[] IN = {6};

    private static Model model() {
        return Zoo.parse("fcn(depth=2,width=8,out=3)");
    }

    @Test
    void everyMethodLeavesTheParametersKnownFiniteAfterOneScan() {
        Model m = model();
        try (Params p = m.init(2, IN, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 1, 5, 6)) {
            assertThat(p.tensors().values()).as("drawn finite by construction").allMatch(Tensor::knownFinite);
            for (Tensor t : p.tensors().values()) {
                t.setFlat(0, t.getFlat(0)); // a tracked write: unknown until scanned again
            }
            assertThat(p.tensors().values()).noneMatch(Tensor::knownFinite);
            for (Method method : new Method[] {Method.STRUCTURED_DERIVATIVES, Method.JACOBIAN_CONTRACTION,
                Method.NTK_VECTOR_PRODUCTS}) {
                EmpiricalNtk ntk = EmpiricalNtk.of(m, p).traceAxes().method(method);
                ntk.ntk(x, null).close();
                ntk.ntk(x, null).close();
                assertThat(p.tensors().values()).as("%s", method).allMatch(Tensor::knownFinite);
            }
        }
    }

    /**
     * The dense layers' x·W with few rows read the weights' transposed copies kept with the parameters (cpu.Blas):
     * every method's kernel has the same bits as the same kernel from parameters whose storage was handed out (so
     * nothing is kept and each call transposes for itself), from the first call on, and a write to a weight reaches
     * the next kernel.
     */
    @Test
    void keptTransposedWeightsGiveTheSameBitsAndSeeWrites() {
        Model m = Zoo.parse("fcn(depth=2,width=1024,out=4)");
        int[] in = {256};
        long before = Tensor.keptCopyBytes();
        try (Params p = m.init(5, in, DType.F32); Params exposed = m.init(5, in, DType.F32);
             Tensor x = Tensor.randomNormal(DType.F32, 6, 8, 256)) {
            exposed.tensors().values().forEach(Tensor::floats);
            for (Method method : new Method[] {Method.STRUCTURED_DERIVATIVES, Method.JACOBIAN_CONTRACTION,
                Method.NTK_VECTOR_PRODUCTS}) {
                for (int call = 0; call < 3; call++) {
                    if (call == 2) {
                        for (Params q : new Params[] {p, exposed}) {
                            Tensor w = q.get(m.paramSpecs(in).get(0).path());
                            w.setFlat(5, w.getFlat(5) + 1.0);
                        }
                    }
                    try (Tensor kept = EmpiricalNtk.of(m, p).traceAxes().method(method).ntk(x, null);
                         Tensor plain = EmpiricalNtk.of(m, exposed).traceAxes().method(method).ntk(x, null)) {
                        // the two layers' weights, 256×1024 and 1024×1024 floats (x·W with 8 rows)
                        assertThat(Tensor.keptCopyBytes() - before).as("%s call %d", method, call)
                                .isEqualTo(4L * (256 * 1024 + 1024 * 1024));
                        assertThat(kept.toFloatArray()).as("%s call %d", method, call)
                                .containsExactly(plain.toFloatArray());
                    }
                }
            }
        }
        assertThat(Tensor.keptCopyBytes()).as("freed with the parameters").isEqualTo(before);
    }

    @Test
    void aWriteAfterTheScanIsSeenWhateverItsRoute() {
        Model m = model();
        String w = m.paramSpecs(IN).get(2).path();
        try (Params p = m.init(2, IN, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 1, 5, 6)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).traceAxes().method(Method.STRUCTURED_DERIVATIVES);
            FloatBuffer takenBefore = p.get(w).floats(); // handed out before any scan: never known finite
            ntk.ntk(x, null).close();
            assertThat(p.get(w).knownFinite()).isFalse();
            takenBefore.put(3, Float.NaN);
            assertThatThrownBy(() -> ntk.ntk(x, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'" + w + "' has a non-finite value (NaN) at flat index 3");
            takenBefore.put(3, 0.5f);
        }
        try (Params p = m.init(2, IN, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 1, 5, 6)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).traceAxes().method(Method.STRUCTURED_DERIVATIVES);
            ntk.ntk(x, null).close();
            assertThat(p.get(w).knownFinite()).isTrue();
            p.get(w).setFlat(1, Double.POSITIVE_INFINITY);
            assertThatThrownBy(() -> ntk.ntk(x, null)).hasMessageContaining(
                    "'" + w + "' has a non-finite value (Infinity) at flat index 1");
            p.get(w).setFlat(1, 0.25);
            ntk.ntk(x, null).close(); // scanned again, finite again
            assertThat(p.get(w).knownFinite()).isTrue();
            p.get(w).floats().put(4, Float.NEGATIVE_INFINITY); // a buffer taken after the scan
            assertThatThrownBy(() -> ntk.ntk(x, null)).hasMessageContaining(
                    "'" + w + "' has a non-finite value (-Infinity) at flat index 4");
        }
    }

    /** The inputs go through the same check: a NaN written into x1 after a call is reported by the next. */
    @Test
    void aNonFiniteInputWrittenAfterACallIsReported() {
        Model m = model();
        try (Params p = m.init(2, IN, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 1, 5, 6)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).traceAxes().method(Method.STRUCTURED_DERIVATIVES);
            ntk.ntk(x, null).close();
            x.setFlat(7, Double.NaN);
            assertThatThrownBy(() -> ntk.ntk(x, null)).hasMessageContaining("x1: contains a non-finite value (NaN)");
        }
    }

    /**
     * Finite inputs and parameters, and a kernel that is not: inputs of 1e20 overflow float32 in the kernel (their
     * squares; NaN where VP multiplies them by a zero), by every method, whole and tile by tile. The result is
     * refused, not returned as a kernel; in float64 the same inputs give a finite kernel.
     */
    @Test
    void aKernelThatOverflowsIsRefusedByEveryMethodAndInTiles() {
        Model m = model();
        try (Params p = m.init(2, IN, DType.F32); Tensor x = Tensor.full(DType.F32, 1e20, 3, 6)) {
            for (Method method : new Method[] {Method.STRUCTURED_DERIVATIVES, Method.JACOBIAN_CONTRACTION,
                Method.NTK_VECTOR_PRODUCTS}) {
                EmpiricalNtk ntk = EmpiricalNtk.of(m, p).traceAxes().method(method);
                assertThatThrownBy(() -> ntk.ntk(x, null)).as("%s", method)
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageMatching("kernel: the result holds (Infinity|NaN) \\(at flat index 0 of \\[3, 3, 3, "
                                + "3]\\) although the inputs and parameters are finite: .*")
                        .hasMessageEndingWith("compute in float64, or scale the inputs");
                EmpiricalNtk tiles = ntk.forTiles(KernelKind.parse("full", 0), 3, 0, IN, DType.F32);
                try (PreparedTile t = tiles.prepare(x)) {
                    assertThatThrownBy(() -> tiles.kernel(t, t)).as("%s in tiles", method)
                            .hasMessageStartingWith("kernel: the result holds ");
                }
            }
        }
        try (Params p = m.init(2, IN, DType.F64); Tensor x = Tensor.full(DType.F64, 1e20, 3, 6);
             Tensor k = EmpiricalNtk.of(m, p).ntk(x, null)) {
            assertThat(k.firstNonFinite()).isEqualTo(-1);
        }
    }

    /**
     * The NNGP and Θ·v of inputs that overflow float32 were returned holding ±∞ or NaN (only the kernels were
     * checked); they are refused as the kernel is, naming the call. A null v is named too, and in float64 the same
     * inputs give finite results.
     */
    @Test
    void anNngpOrAProductThatOverflowsIsRefused() {
        Model m = model();
        try (Params p = m.init(2, IN, DType.F32); Tensor x = Tensor.full(DType.F32, 1e20, 3, 6);
             Tensor v = Tensor.full(DType.F32, 1, 3, 3)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
            assertThatThrownBy(() -> ntk.nngp(x, null)).isInstanceOf(NonFiniteKernelException.class)
                    .hasMessageMatching("nngp: the result holds (Infinity|NaN) \\(at flat index 0 of \\[3, 3]\\) "
                            + "although the inputs and parameters are finite: .*");
            assertThatThrownBy(() -> ntk.ntkVectorProduct(x, null, v)).isInstanceOf(NonFiniteKernelException.class)
                    .hasMessageStartingWith("ntk_vector_product: the result holds ");
            assertThatThrownBy(() -> ntk.ntkVectorProduct(x, null, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("v: must not be null");
        }
        try (Params p = m.init(2, IN, DType.F64); Tensor x = Tensor.full(DType.F64, 1e20, 3, 6);
             Tensor v = Tensor.full(DType.F64, 1, 3, 3); Tensor g = EmpiricalNtk.of(m, p).nngp(x, null);
             Tensor jv = EmpiricalNtk.of(m, p).ntkVectorProduct(x, null, v)) {
            assertThat(g.firstNonFinite()).isEqualTo(-1);
            assertThat(jv.firstNonFinite()).isEqualTo(-1);
        }
    }

    @Test
    void readViewsShareTheStorageOwnNothingAndLeaveTheTensorTracked() {
        try (Tensor t = Tensor.randomNormal(DType.F32, 3, 4, 5)) {
            assertThat(org.ntk4j.cpu.Reduce.firstNonFiniteUnlessKnown(t)).isEqualTo(-1);
            assertThat(t.knownFinite()).isTrue();
            long live = Tensor.liveBytes();
            Tensor v = t.readView();
            assertThat(Tensor.liveBytes()).isEqualTo(live);
            assertThat(v.shape()).containsExactly(4, 5);
            assertThat(v.floats().get(7)).isEqualTo(t.floats().get(7) + 0f);
            assertThat(t.knownFinite()).isFalse(); // t.floats() above handed t's storage out
        }
        try (Tensor t = Tensor.randomNormal(DType.F64, 3, 4, 5)) {
            org.ntk4j.cpu.Reduce.firstNonFiniteUnlessKnown(t);
            double first = t.getFlat(0);
            Tensor v = t.readView();
            assertThat(v.doubles().get(0)).isEqualTo(first);
            assertThat(v.knownFinite()).isFalse();
            assertThat(t.knownFinite()).isTrue(); // the view's buffers are not t's hand-out
            long live = Tensor.liveBytes();
            v.reshapeMove(20).close(); // a moved view is still a view: closing frees nothing
            v.close();
            assertThat(Tensor.liveBytes()).isEqualTo(live);
            assertThat(t.getFlat(0)).isEqualTo(first);
            assertThat(t.isClosed()).isFalse();
        }
    }

    /** {@link Tensor#readView(int...)}: the same elements in row-major order under another shape, no copy. */
    @Test
    void reshapedReadViewsReadTheSameStorageWithoutACopy() {
        try (Tensor t = Tensor.randomNormal(DType.F64, 4, 2, 3, 4)) {
            long live = Tensor.liveBytes();
            Tensor v = t.readView(6, 4);
            assertThat(Tensor.liveBytes()).as("no storage of its own").isEqualTo(live);
            assertThat(v.shape()).containsExactly(6, 4);
            assertThat(v.get(4, 1)).isEqualTo(t.get(1, 1, 1)); // flat 17 in both
            t.setFlat(17, 2.5);
            assertThat(v.getFlat(17)).as("the storage itself, not a copy").isEqualTo(2.5);
            v.close();
            assertThat(Tensor.liveBytes()).isEqualTo(live);
            assertThat(t.isClosed()).isFalse();
            assertThat(t.getFlat(17)).isEqualTo(2.5);
            assertThatThrownBy(() -> t.readView(5, 5)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[2, 3, 4] (24 elements)").hasMessageContaining("[5, 5]");
        }
    }

    @Test
    void drawsThatCouldOverflowOrAreNotNumbersAreScannedAndReported() {
        List<ParamSpec> specs = List.of(new ParamSpec("huge", new int[] {1000}, 1e39, 0),
                new ParamSpec("nan", new int[] {10}, 1, Double.NaN), new ParamSpec("fine", new int[] {10}, 1e37, 0));
        try (Params p = Params.initialise(specs, 5, DType.F32)) {
            assertThat(p.get("huge").knownFinite()).isFalse();
            assertThat(p.get("huge").firstNonFinite()).as("1e39·z overflows float32 for most z").isNotNegative();
            assertThat(p.get("nan").knownFinite()).isFalse();
            assertThat(p.get("fine").knownFinite()).as("1e37 · 8.58 < Float.MAX_VALUE / 2").isTrue();
            assertThat(p.get("fine").firstNonFinite()).isNegative();
        }
        try (Params p = Params.initialise(specs.subList(0, 1), 5, DType.F64)) {
            assertThat(p.get("huge").knownFinite()).as("finite in float64").isTrue();
        }
    }
}
