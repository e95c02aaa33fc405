package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.infinite.CnnLimit;
import org.ntk4j.infinite.FcnLimit;
import org.ntk4j.infinite.InfiniteLimit;
import org.ntk4j.infinite.LimitKernel;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Npy;
import org.ntk4j.io.RunFingerprint;
import org.ntk4j.io.TileStore;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Ensemble;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** {@code kernel --ensemble K [--sem]} (tiled and resumable) and {@code kernel --infinite}. */
class EnsembleAndLimitCommandTest {
    private static final String SPEC = "fcn(depth=1,width=16,out=3)";
    private static final int[] PER = {5};

    @TempDir
    Path dir;

    private static double maxDiff(Tensor a, Tensor b) {
        assertThat(a.shape()).isEqualTo(b.shape());
        double m = 0;
        for (int i = 0; i < a.size(); i++) {
            m = Math.max(m, Math.abs(a.getFlat(i) - b.getFlat(i)));
        }
        return m;
    }

    @Test
    void aTiledEnsembleRunWritesTheMeanAndTheStandardErrorOfTheApi() throws Exception {
        Path k = dir.resolve("k.npy");
        Path s = dir.resolve("s.npy");
        String[] o = run(0, "kernel", "--model", SPEC, "--data", "synthetic:40,5", "--dtype", "f64", "--ensemble", "3",
                "--sem", s.toString(), "--out", k.toString(), "--tile", "16", "--threads", "2", "--quiet");
        assertThat(o[0]).contains("mean of an ensemble of 3 (seeds 0..2)").contains("wrote " + s);
        assertThat(Files.exists(TileStore.manifestPath(k))).isFalse();
        try (Tensor x = DataSource.load("synthetic:40,5", DType.F64, 0);
             Ensemble.Mean m = Ensemble.of(Zoo.parse(SPEC), 0, 3, PER, DType.F64).kernel(KernelKind.trace(), x, null);
             Tensor written = Npy.readTensor(k); Tensor sem = Npy.readTensor(s)) {
            assertThat(maxDiff(written, m.mean())).isLessThan(1e-12);
            assertThat(maxDiff(sem, m.sem())).isLessThan(1e-12);
            assertThat(sem.get(3, 7)).isGreaterThan(0.0);
        }
        // untiled (no --out): the same mean, printed
        String[] u = run(0, "kernel", "--model", SPEC, "--data", "synthetic:40,5", "--dtype", "f64", "--ensemble", "3");
        assertThat(u[0]).contains("kind trace, mean of an ensemble of 3 (seeds 0..2)");
    }

    /**
     * --nngp with --out writes the NNGP f(x1)·f(x2)ᵀ, computed in memory (it was handed to the tiled run, which
     * wrote the NTK), alone and as an ensemble's mean.
     */
    @Test
    void theNngpWithOutIsTheNngp() throws Exception {
        Path k = dir.resolve("nngp.npy");
        String[] o = run(0, "kernel", "--model", SPEC, "--data", "synthetic:40,5", "--dtype", "f64", "--nngp", "--out",
                k.toString());
        assertThat(o[0]).contains("kind trace nngp").contains("wrote " + k);
        Model m = Zoo.parse(SPEC);
        try (Tensor x = DataSource.load("synthetic:40,5", DType.F64, 0); Params p = m.init(0, PER, DType.F64);
             Tensor expected = EmpiricalNtk.of(m, p).nngp(x, null); Tensor ntk = EmpiricalNtk.of(m, p).ntk(x, null);
             Tensor written = Npy.readTensor(k)) {
            assertThat(maxDiff(written, expected)).isLessThan(1e-12);
            assertThat(maxDiff(written, ntk)).isGreaterThan(1e-3);
        }
        Path e = dir.resolve("nngp3.npy");
        run(0, "kernel", "--model", SPEC, "--data", "synthetic:40,5", "--dtype", "f64", "--nngp", "--ensemble", "3",
                "--out", e.toString());
        try (Tensor x = DataSource.load("synthetic:40,5", DType.F64, 0);
             Ensemble.Mean mean = Ensemble.of(m, 0, 3, PER, DType.F64).over(n -> n.nngp(x, null));
             Tensor written = Npy.readTensor(e)) {
            assertThat(maxDiff(written, mean.mean())).isLessThan(1e-12);
        }
    }

    /** An unfinished ensemble run resumes (its finished tile not recomputed); another --ensemble is refused. */
    @Test
    void anEnsembleRunResumesAndRefusesAnotherEnsembleSize() throws Exception {
        Path k = dir.resolve("k.npy");
        Model net = Zoo.parse(SPEC);
        try (Tensor x = DataSource.load("synthetic:40,5", DType.F64, 0); Params p = net.init(0, PER, DType.F64)) {
            TilePlan plan = TilePlanner.of(EmpiricalNtk.of(net, p).method(Method.STRUCTURED_DERIVATIVES)
                    .memoryBudget(1L << 30), KernelKind.trace()).budget(1L << 30).tile(16).workers(1)
                    .plan(40, 0, PER, DType.F64);
            String fp = "ensemble 3 seeds 0..2 mean " + RunFingerprint.of(net.spec(), p, x, null);
            Ensemble e = Ensemble.of(net, 0, 3, PER, DType.F64).configure(n -> n.method(Method.STRUCTURED_DERIVATIVES));
            try (TileStore store = TileStore.create(k, plan, fp); Ensemble.Mean t0 = e.computeTile(plan, 0, x, null)) {
                store.write(plan.tile(0), t0.mean());
            }
            String[] base = {"kernel", "--model", SPEC, "--data", "synthetic:40,5", "--dtype", "f64", "--method", "sd",
                "--memory", "1g", "--out", k.toString(), "--threads", "1", "--quiet", "--resume"};
            String[] other = run(2, TiledRunTest.with(base, "--ensemble", "4"));
            assertThat(other[1].trim()).startsWith("ntk4j: --resume: the run of " + k + " is the mean of --ensemble 3, "
                    + "not --ensemble 4").doesNotContain("\n");
            String[] single = run(2, base);
            assertThat(single[1]).contains("is the mean of --ensemble 3, not a single kernel");
            String[] ok = run(0, TiledRunTest.with(base, "--ensemble", "3"));
            assertThat(ok[0]).contains("(1 already done)");
            try (Ensemble.Mean m = e.kernel(KernelKind.trace(), x, null); Tensor written = Npy.readTensor(k)) {
                assertThat(maxDiff(written, m.mean())).isLessThan(1e-12);
            }
        }
    }

    @Test
    void theInfiniteKernelIsTheAnalyticLimitLaidOutAsTheKind() throws Exception {
        Path k = dir.resolve("inf.npy");
        String spec = "fcn(depth=2,width=64,out=3,act=erf,param=standard)";
        String[] o = run(0, "kernel", "--infinite", "--model", spec, "--data", "synthetic:9,2,3", "--dtype", "f64",
                "--kind", "full", "--out", k.toString());
        assertThat(o[0]).contains("infinite-width limit").contains("wrote " + k);
        try (Tensor x = DataSource.load("synthetic:9,2,3", DType.F64, 0); Tensor written = Npy.readTensor(k);
             Tensor want = FcnLimit.of(spec).kernel(KernelKind.full(), x, null, LimitKernel.NTK, DType.F64)) {
            assertThat(written.shape()).containsExactly(9, 9, 3, 3);
            assertThat(maxDiff(written, want)).isEqualTo(0.0);
            assertThat(written.get(1, 2, 0, 0)).isCloseTo(written.get(2, 1, 2, 2), within(0.0));
        }
        Path g = dir.resolve("nngp.npy");
        run(0, "kernel", "--infinite", "--nngp", "--model", spec, "--data", "synthetic:9,2,3", "--dtype", "f64",
                "--out", g.toString());
        try (Tensor x = DataSource.load("synthetic:9,2,3", DType.F64, 0); Tensor written = Npy.readTensor(g);
             Tensor want = FcnLimit.of(spec).kernel(KernelKind.trace(), x, null, LimitKernel.NNGP, DType.F64)) {
            assertThat(maxDiff(written, want)).isEqualTo(0.0);
        }
    }

    /**
     * A cnn's limit through kernel --infinite: data of s² columns is read as s×s one-channel images, as for the
     * empirical kernel (the cnn limit was refused before).
     */
    @Test
    void theInfiniteKernelOfACnnReadsFlatDataAsImages() throws Exception {
        Path k = dir.resolve("cnn.npy");
        String spec = "cnn(depth=2,out=2,pool=flatten,act=erf)";
        String[] o = run(0, "kernel", "--infinite", "--nngp", "--model", spec, "--data", "synthetic:5,16", "--dtype",
                "f64", "--out", k.toString());
        assertThat(o[0]).contains("cnn limit (depth=2").contains("wrote " + k);
        try (Tensor x = DataSource.load("synthetic:5,16", DType.F64, 0); Tensor images = x.reshape(5, 4, 4, 1);
             Tensor written = Npy.readTensor(k);
             Tensor want = CnnLimit.of(spec).kernel(KernelKind.trace(), images, null, LimitKernel.NNGP, DType.F64)) {
            assertThat(written.shape()).containsExactly(5, 5);
            assertThat(maxDiff(written, want)).isEqualTo(0.0);
        }
    }

    @Test
    void unsupportedCombinationsAreRefusedInOneLine() {
        String[] other = run(2, "kernel", "--infinite", "--model", "transformer(layers=1)", "--data",
                "synthetic:4,8,8");
        assertThat(other[1].trim()).isEqualTo("ntk4j: --infinite: the analytic infinite-width kernels are implemented "
                + "for " + InfiniteLimit.SUPPORTED + " only, not 'transformer'");
        String[] mish = run(2, "kernel", "--infinite", "--model", "fcn(act=mish)", "--data", "synthetic:4,8");
        assertThat(mish[1].trim()).isEqualTo("ntk4j: fcn: option act must be one of relu, leaky_relu, erf, tanh, "
                + "sigmoid, gelu, softplus, sin, identity, abs, exp, gaussian, cos, silu, elu, got 'mish'");
        String[] sem = run(2, "kernel", "--ensemble", "1", "--sem", dir.resolve("s.npy").toString(), "--data",
                "synthetic:4,8");
        assertThat(sem[1]).contains("--sem: the standard error of the mean needs --ensemble K with K >= 2");
        String[] both = run(2, "kernel", "--infinite", "--ensemble", "2", "--data", "synthetic:4,8");
        assertThat(both[1]).contains("does not combine with --ensemble");
        assertThat(Files.exists(dir.resolve("s.npy"))).isFalse();
    }

    /**
     * --infinite held both analytic kernels as double[N][N] on the heap (16 bytes per entry, besides the result) and
     * did not look at --memory: a kernel larger than the budget is now refused before any work, naming its size.
     */
    @Test
    void theInfiniteKernelIsRefusedBeforeAnyWorkWhenItExceedsTheMemoryBudget() {
        Path k = dir.resolve("big-inf.npy");
        String[] o = run(2, "kernel", "--infinite", "--model", "fcn(depth=1,out=4)", "--data", "synthetic:300,3",
                "--kind", "full", "--memory", "1m", "--out", k.toString());
        assertThat(o[1].trim()).isEqualTo("ntk4j: memory budget: the infinite-width kernel (kind full, 300 × 300 "
                + "examples, f32) takes 5.5 MiB, more than the 1.0 MiB of --memory (raise --memory, or use fewer "
                + "examples)");
        assertThat(k).doesNotExist();
        String[] fits = run(0, "kernel", "--infinite", "--model", "fcn(depth=1,out=4)", "--data", "synthetic:300,3",
                "--memory", "1m", "--out", k.toString());
        assertThat(fits[0]).contains("kernel [300, 300]");
    }
}
