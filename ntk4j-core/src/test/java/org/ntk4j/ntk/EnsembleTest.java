package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class EnsembleTest {
    private static final Model NET = Zoo.parse("fcn(depth=2,width=24,out=3)");
    private static final int[] PER = {5};

    /** The mean and the standard error are those of the members' kernels computed one by one (seeds s..s+K-1). */
    @Test
    void meanAndStandardErrorAreThoseOfTheMembersSeedsSToSPlusKMinusOne() {
        int k = 5;
        long seed = 11;
        try (Tensor x = Tensor.randomNormal(DType.F64, 3, 6, 5)) {
            double[][] members = new double[k][];
            for (int i = 0; i < k; i++) {
                try (Params p = NET.init(seed + i, PER, DType.F64);
                     Tensor t = EmpiricalNtk.of(NET, p).kernel(KernelKind.full(), x, null)) {
                    members[i] = t.toDoubleArray();
                }
            }
            Ensemble e = Ensemble.of(NET, seed, k, PER, DType.F64);
            try (Ensemble.Mean m = e.kernel(KernelKind.full(), x, null)) {
                assertThat(m.mean().shape()).containsExactly(6, 6, 3, 3);
                double[] mean = m.mean().toDoubleArray();
                double[] sem = m.sem().toDoubleArray();
                boolean someSpread = false;
                for (int j = 0; j < mean.length; j++) {
                    double s = 0;
                    for (double[] mm : members) {
                        s += mm[j];
                    }
                    double mu = s / k;
                    double ss = 0;
                    for (double[] mm : members) {
                        ss += (mm[j] - mu) * (mm[j] - mu);
                    }
                    double se = Math.sqrt(ss / (k - 1) / k);
                    assertThat(mean[j]).isCloseTo(mu, within(1e-12 * (1 + Math.abs(mu))));
                    assertThat(sem[j]).isCloseTo(se, within(1e-12 * (1 + se)));
                    someSpread |= se > 1e-3;
                }
                assertThat(someSpread).isTrue();
            }
            try (Ensemble.Mean g = e.nngp(x, null); Params p0 = NET.init(seed, PER, DType.F64);
                 Tensor f0 = EmpiricalNtk.of(NET, p0).nngp(x, null)) {
                assertThat(g.mean().shape()).containsExactly(6, 6);
                assertThat(g.mean().get(1, 2)).isNotEqualTo(f0.get(1, 2));
            }
            try (Ensemble.Mean one = Ensemble.of(NET, seed, 1, PER, DType.F64).kernel(KernelKind.trace(), x, null)) {
                assertThat(Double.isNaN(one.sem().get(0, 0))).isTrue();
            }
        }
    }

    /** A tile of the ensemble kernel is the block of the untiled ensemble mean (and sem), whatever the workers. */
    @Test
    void tilesAreBlocksOfTheUntiledEnsembleMean() throws Exception {
        try (Tensor x = Tensor.randomNormal(DType.F64, 4, 37, 5)) {
            Ensemble e = Ensemble.of(NET, 0, 3, PER, DType.F64);
            TilePlan plan;
            try (Params p = NET.init(0, PER, DType.F64)) {
                plan = TilePlanner.of(EmpiricalNtk.of(NET, p).memoryBudget(1L << 30), KernelKind.trace()).tile(16)
                        .workers(2).plan(37, 0, PER, DType.F64);
            }
            assertThat(plan.tileCount()).isGreaterThan(1);
            ConcurrentHashMap<Integer, double[][]> got = new ConcurrentHashMap<>();
            e.run(plan, x, null, Set.of(), (t, mean, sem) -> got.put(t.index(),
                    new double[][] {mean.toDoubleArray(), sem.toDoubleArray()}), null);
            assertThat(got).hasSize(plan.tileCount());
            try (Ensemble.Mean whole = e.kernel(KernelKind.trace(), x, null)) {
                for (TilePlan.Tile t : plan.tiles()) {
                    double[][] b = got.get(t.index());
                    int cols = t.columnTo() - t.columnFrom();
                    for (int i = t.rowFrom(); i < t.rowTo(); i++) {
                        for (int j = t.columnFrom(); j < t.columnTo(); j++) {
                            int at = (i - t.rowFrom()) * cols + (j - t.columnFrom());
                            assertThat(b[0][at]).isCloseTo(whole.mean().get(i, j), within(1e-12));
                            assertThat(b[1][at]).isCloseTo(whole.sem().get(i, j), within(1e-12));
                        }
                    }
                }
            }
            Set<Integer> done = Set.of(0);
            ConcurrentHashMap<Integer, Boolean> again = new ConcurrentHashMap<>();
            e.run(plan, x, null, done, (t, mean, sem) -> again.put(t.index(), true), null);
            assertThat(again).hasSize(plan.tileCount() - 1).doesNotContainKey(0);
        }
    }

    /** The Java API's refusals name the argument in the API's words (they named the CLI's --ensemble, or were NPEs). */
    @Test
    void badArgumentsAreNamed() {
        Model m = Zoo.parse("fcn(depth=1,width=4,out=2)");
        assertThatThrownBy(() -> Ensemble.of(m, 0, 0, new int[] {3}, DType.F64))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("ensemble: needs at least 1 member, got 0");
        assertThatThrownBy(() -> Ensemble.of(null, 0, 2, new int[] {3}, DType.F64))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("ensemble: model must not be null");
        assertThatThrownBy(() -> Ensemble.of(m, 0, 2, null, DType.F64))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("ensemble: perExample must not be null");
    }
}
