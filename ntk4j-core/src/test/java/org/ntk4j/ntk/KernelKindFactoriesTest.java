package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** The named factories and the seedless parse give the kinds of {@code parse(text, seed)}, and refuse by name. */
class KernelKindFactoriesTest {
    @Test
    void factoriesAreTheParsedKinds() {
        assertThat(KernelKind.full()).isEqualTo(KernelKind.parse("full", 0)).isEqualTo(KernelKind.parse("full"));
        assertThat(KernelKind.trace()).isEqualTo(KernelKind.parse(" TRACE ")).hasToString("trace");
        assertThat(KernelKind.diagonal()).isEqualTo(KernelKind.parse("diagonal")).hasToString("diagonal");
        assertThat(KernelKind.pntk()).isEqualTo(KernelKind.parse("pntk")).hasToString("pntk");
        assertThat(KernelKind.pntkUnscaled()).isEqualTo(KernelKind.parse("pntk-unscaled"))
                .hasToString("pntk-unscaled");
        assertThat(KernelKind.logit(3)).isEqualTo(KernelKind.parse("logit:3")).hasToString("logit:3");
        assertThat(KernelKind.logit(3).family()).isEqualTo(KernelKind.Family.LOGIT);
        assertThat(KernelKind.probes(4, 9)).isEqualTo(KernelKind.parse("probes:4", 9)).hasToString("probes:4");
        assertThat(KernelKind.probes(4, 9).seed()).isEqualTo(9);
        assertThat(KernelKind.projected(16, 2)).isEqualTo(KernelKind.parse("projected:16", 2))
                .hasToString("projected:16");
        // equal means the same kernel: the seed counts for the seeded kinds only
        assertThat(KernelKind.probes(4, 9)).isNotEqualTo(KernelKind.probes(4, 10));
        assertThat(KernelKind.projected(16, 2)).isNotEqualTo(KernelKind.projected(16, 3));
        assertThat(KernelKind.parse("trace", 5)).isEqualTo(KernelKind.trace())
                .hasSameHashCodeAs(KernelKind.trace());
        assertThat(KernelKind.logit(1)).isNotEqualTo(KernelKind.logit(2)).isNotEqualTo(KernelKind.pntk());
        assertThat(KernelKind.pntk()).isNotEqualTo(KernelKind.pntkUnscaled()).isNotEqualTo("pntk");
    }

    @Property(tries = 50)
    void parsingTheNameGivesTheKindBack(@ForAll @IntRange(min = 0, max = 1000) int arg, @ForAll long seed) {
        for (KernelKind k : new KernelKind[] {KernelKind.full(), KernelKind.trace(), KernelKind.diagonal(),
            KernelKind.pntk(), KernelKind.pntkUnscaled(), KernelKind.logit(arg)}) {
            assertThat(KernelKind.parse(k.toString())).isEqualTo(k).hasSameHashCodeAs(k);
        }
        KernelKind probes = KernelKind.probes(arg + 1, seed);
        KernelKind projected = KernelKind.projected(arg + 1, seed);
        assertThat(KernelKind.parse(probes.toString(), seed)).isEqualTo(probes).hasSameHashCodeAs(probes);
        assertThat(KernelKind.parse(projected.toString(), seed)).isEqualTo(projected);
        assertThat(probes.argument()).isEqualTo(arg + 1);
    }

    @Test
    void theFactoriesComputeTheParsedKernels() {
        Model m = Zoo.parse("fcn(depth=2,width=5,out=3)");
        Params p = m.init(1, new int[] {4}, DType.F64);
        Tensor x = Tensor.randomNormal(DType.F64, 2, 3, 4);
        EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
        for (KernelKind[] pair : new KernelKind[][] {
            {KernelKind.pntk(), KernelKind.parse("pntk", 0)},
            {KernelKind.diagonal(), KernelKind.parse("diagonal", 0)},
            {KernelKind.logit(2), KernelKind.parse("logit:2", 0)},
            {KernelKind.probes(3, 11), KernelKind.parse("probes:3", 11)},
            {KernelKind.projected(7, 5), KernelKind.parse("projected:7", 5)}}) {
            try (Tensor a = ntk.kernel(pair[0], x, null); Tensor b = ntk.kernel(pair[1], x, null)) {
                assertThat(a.toDoubleArray()).as("%s", pair[0]).containsExactly(b.toDoubleArray());
            }
        }
    }

    @Test
    void badInputIsOneLineNamingTheKind() {
        assertThatThrownBy(() -> KernelKind.parse("probes:4"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("kind: 'probes:4' is random and needs a seed: use KernelKind.parse(text, seed) or "
                        + "KernelKind.probes(4, seed)");
        assertThatThrownBy(() -> KernelKind.parse(" projected:32 "))
                .hasMessage("kind: 'projected:32' is random and needs a seed: use KernelKind.parse(text, seed) or "
                        + "KernelKind.projected(32, seed)");
        assertThatThrownBy(() -> KernelKind.parse(null)).hasMessage("kind: must not be null");
        assertThatThrownBy(() -> KernelKind.parse("nope")).hasMessageStartingWith("kind: expected full, trace");
        assertThatThrownBy(() -> KernelKind.logit(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("kind: 'logit:-1': the argument must be >= 0");
        assertThatThrownBy(() -> KernelKind.probes(0, 1)).hasMessage("kind: 'probes:0': the argument must be >= 1");
        assertThatThrownBy(() -> KernelKind.projected(-3, 1))
                .hasMessage("kind: 'projected:-3': the argument must be >= 1");
    }
}
