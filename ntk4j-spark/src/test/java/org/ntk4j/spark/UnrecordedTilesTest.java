package org.ntk4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.ExistingOutput;
import org.ntk4j.io.RunFingerprint;
import org.ntk4j.io.TileStore;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.ntk.TiledKernel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A Spark run whose driver never learns that a task finished some of its tiles (the driver killed mid-run; here its
 * one task fails for good after two of its four tiles, on {@code local[1,1]}, which does not retry) loses none of
 * them: the task noted each in its journal, and the resumed run records them where OUT.partial holds their bytes
 * instead of computing them again. Before 2026-12-07 only the tiles of tasks whose result reached the driver were
 * kept: a task's tiles were all computed again, up to a third of a run (three tasks per core).
 */
class UnrecordedTilesTest {
    static final String MODEL = "fcn(depth=2,width=12,out=3)";

    @TempDir
    Path dir;

    @Test
    void tilesOfATaskThatNeverReportedAreNotComputedAgain() throws IOException {
        int[] perExample = {5};
        try (JavaSparkContext sc = new JavaSparkContext(SparkTesting.localConf(1, 1).setAppName("UnrecordedTiles"));
             Params params = Zoo.parse(MODEL).init(7, perExample, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 11, 64, 5)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(Zoo.parse(MODEL), params);
            // 64 × 64 in tiles of 16, upper triangle: rows of 4, 3, 2 and 1 tiles; one task per row
            TilePlan plan = TilePlanner.of(ntk, KernelKind.trace()).tile(16).plan(64, 0, perExample, DType.F64);
            Path local = dir.resolve("local.npy");
            try (TileStore store = TileStore.create(local, plan, RunFingerprint.of(MODEL, params, x1, null))) {
                new TiledKernel(ntk, plan, x1, null).run(Set.of(), store::write, null);
                store.finish();
            }
            Path out = dir.resolve("spark.npy");
            sc.setLocalProperty(SparkKernelJob.TILES_PER_TASK, "4");
            // the first row's task writes tiles 0 and 1, then a wrong tile 2, and fails: the job fails with it
            sc.setLocalProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT, "2");
            assertThatThrownBy(() -> SparkKernelJob.run(sc, MODEL, params, x1, null, plan, out,
                    ExistingOutput.REFUSE, null)).isInstanceOf(IOException.class)
                    .hasMessageStartingWith("spark: the kernel job failed: ");
            sc.setLocalProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT, null);
            assertThat(TileStore.unfinished(out)).isTrue();
            assertThat(TileStore.journalPath(out)).isDirectory();

            List<Integer> computed = new ArrayList<>();
            SparkKernelJob.Summary s = SparkKernelJob.run(sc, MODEL, params, x1, null, plan, out,
                    ExistingOutput.RESUME, (tiles, done, total) -> {
                        for (int t : tiles) {
                            computed.add(t);
                        }
                    });
            // tiles 0 and 1 were noted, not recorded: taken from the file; tile 2's wrong bytes were never noted
            assertThat(computed).doesNotContain(0, 1).contains(2).doesNotHaveDuplicates();
            assertThat(s.tilesResumed()).isGreaterThanOrEqualTo(2);
            assertThat(s.tilesResumed() + s.tilesComputed()).isEqualTo(plan.tileCount());
            assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(local));
            assertThat(TileStore.journalPath(out)).doesNotExist();
            assertThat(TileStore.unfinished(out)).isFalse();
        }
    }
}
