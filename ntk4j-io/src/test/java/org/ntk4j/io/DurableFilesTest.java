package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.ntk.TiledKernel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * What a long run needs of its files beyond writing them: every rename of a finished file onto its name, and the
 * removal of a finished run's manifests, is made durable by forcing its directory ({@link AtomicFile#moveOnto}),
 * on the normal disk and on a tmpfs; a resumed run's space check asks only for the tiles it still has to write, in
 * both files of an ensemble together.
 */
class DurableFilesTest {
    static final Model NET = Zoo.parse("fcn(depth=1,width=8,out=3)");
    private final List<Path> synced = new ArrayList<>();

    @AfterEach
    void cleanUp() {
        AtomicFile.directorySynced = null;
        System.clearProperty(InjectedFaults.USABLE_SPACE);
    }

    private void watchSyncs() {
        synced.clear();
        AtomicFile.directorySynced = d -> {
            synchronized (synced) {
                synced.add(d);
            }
        };
    }

    /**
     * The helper forces a directory and says so (the normal disk, and /dev/shm, a tmpfs, where Linux has it); a
     * directory that cannot be opened (here: one that does not exist) is skipped without an error.
     */
    @Test
    void theHelperForcesADirectoryAndSkipsOneThatCannotBeOpened(@TempDir Path dir) throws IOException {
        watchSyncs();
        assertThat(AtomicFile.forceDirectory(dir)).isTrue();
        assertThat(AtomicFile.forceDirectory(dir.resolve("missing"))).isFalse();
        List<Path> expected = new ArrayList<>(List.of(dir));
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            Path t = Files.createTempDirectory(shm, "ntk4j-durable");
            try {
                assertThat(AtomicFile.forceDirectory(t)).isTrue();
                expected.add(t);
            } finally {
                Files.delete(t);
            }
        }
        assertThat(synced).containsExactlyElementsOf(expected);
    }

    /** Directories to write in: the normal disk and, where Linux has one, a tmpfs. */
    private static List<Path> places(Path dir) throws IOException {
        List<Path> places = new ArrayList<>(List.of(Files.createDirectory(dir.resolve("disk"))));
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            places.add(Files.createTempDirectory(shm, "ntk4j-durable"));
        }
        return places;
    }

    private static void deleteTree(Path p) throws IOException {
        if (!p.startsWith("/dev/shm")) {
            return; // @TempDir's own
        }
        try (var files = Files.walk(p)) {
            for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }

    /**
     * Every writer renames its finished file and forces the directory after it: .npy, .npz, JSON, text written
     * new or replacing a file, and a tiled run's OUT (and an ensemble's SEM, in another directory) by
     * {@link TileStore#finishAll}, which did not force the directory before.
     */
    @Test
    void everyRenameOfAFinishedFileForcesItsDirectory(@TempDir Path dir) throws IOException {
        List<Path> places = places(dir);
        try {
            for (Path at : places) {
                writeEach(at);
            }
        } finally {
            for (Path at : places) {
                deleteTree(at);
            }
        }
    }

    /** Writes with every writer in {@code at}, checking that each rename forced {@code at} (or SEM's directory). */
    private void writeEach(Path at) throws IOException {
        try (Params p = NET.init(1, new int[] {5}, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 2, 20, 5)) {
            watchSyncs();
            Npy.write(at.resolve("a.npy"), x);
            Npy.write(at.resolve("a.npy"), x); // replacing
            assertThat(synced).containsExactly(at, at);
            watchSyncs();
            Npz.write(at.resolve("b.npz"), Map.of("x", x));
            new JsonReport().put("n", 1).write(at.resolve("c.json"));
            AtomicFile.expectNew(at.resolve("d.txt")); // a new output: the rename that refuses a file there
            AtomicFile.writeString(at.resolve("d.txt"), "d");
            assertThat(synced).containsExactly(at, at, at);
            assertThat(Files.readString(at.resolve("d.txt"), StandardCharsets.UTF_8)).isEqualTo("d");

            Path sub = Files.createDirectory(at.resolve("sem"));
            Path out = at.resolve("K.npy");
            Path sem = sub.resolve("S.npy");
            TiledKernelRun.Request q = TiledKernelRun.Request.of(NET, p, x, null, KernelKind.trace(), out)
                    .withMethod(Method.AUTO, 1L << 30).withTile(16).withThreads(1).withEnsemble(2, 7, sem);
            TiledKernelRun.Result r;
            try (TiledKernelRun.Claim claim = TiledKernelRun.claim(q)) {
                // the manifests are written through AtomicFile too: only the finish's renames are counted
                r = TiledKernelRun.run(q, new NoEvents() {
                    @Override
                    public TiledKernelRun.Progress progress(TilePlan plan, int alreadyDone) {
                        watchSyncs();
                        return super.progress(plan, alreadyDone);
                    }
                });
            }
            assertThat(r.computed()).isEqualTo(r.plan().tileCount());
            assertThat(synced).as("the renames (OUT's directory, then SEM's), then the manifests' removals (SEM's, "
                    + "then OUT's)").containsExactly(at, sub, sub, at);
            assertThat(out).exists();
            assertThat(sem).exists();
        } finally {
            AtomicFile.forgetNewFiles();
        }
    }

    /** Events that do nothing. */
    private static class NoEvents implements TiledKernelRun.Events {
        @Override
        public void planned(TilePlan plan) {
        }

        @Override
        public void discarding(Path out) {
        }

        @Override
        public TiledKernelRun.Progress progress(TilePlan plan, int alreadyDone) {
            return new TiledKernelRun.Progress() {
                @Override
                public void tileDone(TilePlan.Tile tile, double seconds) {
                }

                @Override
                public void close() {
                }
            };
        }

        @Override
        public java.io.PrintWriter clusterLog() {
            return new java.io.PrintWriter(java.io.Writer.nullWriter());
        }
    }

    /**
     * The bytes a resumed run still writes, against an independent count: the kernel's entries (i, j) not covered
     * by a finished tile or its mirror, each {@code tail × dtype} bytes; a symmetric plan (mirrored tiles) and one
     * of x1 against x2.
     */
    @Test
    void theBytesLeftAreTheEntriesNoFinishedTileCovers() {
        try (Params p = NET.init(1, new int[] {5}, DType.F32)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(NET, p).memoryBudget(1L << 30);
            for (int n2 : new int[] {0, 23}) {
                for (KernelKind kind : new KernelKind[] {KernelKind.full(), KernelKind.trace()}) {
                    TilePlan plan = TilePlanner.of(ntk, kind).tile(16).plan(40, n2, new int[] {5}, DType.F32);
                    long entry = (long) plan.tailElements() * 4;
                    assertThat(TileStore.bytesLeft(plan, Set.of())).isEqualTo(plan.elements() * 4);
                    Set<Integer> done = new TreeSet<>();
                    for (int t = 0; t < plan.tileCount(); t += 2) {
                        done.add(t);
                        boolean[][] covered = new boolean[plan.n1()][plan.shape()[1]];
                        for (int d : done) {
                            TilePlan.Tile tile = plan.tile(d);
                            for (int i = tile.rowFrom(); i < tile.rowTo(); i++) {
                                for (int j = tile.columnFrom(); j < tile.columnTo(); j++) {
                                    covered[i][j] = true;
                                    if (tile.mirrored()) {
                                        covered[j][i] = true;
                                    }
                                }
                            }
                        }
                        long open = 0;
                        for (boolean[] row : covered) {
                            for (boolean c : row) {
                                open += c ? 0 : 1;
                            }
                        }
                        assertThat(TileStore.bytesLeft(plan, done)).as("%s, n2 %d, done %s", kind, n2, done)
                                .isEqualTo(open * entry);
                    }
                }
            }
        }
    }

    /** Tiles recorded in a manifest. */
    private static Set<Integer> recorded(Path out) throws IOException {
        Set<Integer> tiles = new TreeSet<>();
        for (String line : Files.readAllLines(TileStore.manifestPath(out), StandardCharsets.UTF_8)) {
            if (line.startsWith("tile ")) {
                tiles.add(Integer.parseInt(line.split(" ")[1]));
            }
        }
        return tiles;
    }

    /** Bytes of the kernel's entries that no tile of {@code done} covers (an independent count). */
    private static long uncovered(TilePlan plan, Set<Integer> done) {
        long open = plan.elements() / plan.tailElements();
        for (int d : done) {
            TilePlan.Tile t = plan.tile(d);
            open -= (long) t.rows() * t.columns() * (t.mirrored() ? 2 : 1);
        }
        return open * plan.tailElements() * plan.dtype().bytes();
    }

    /**
     * A resumed run needs the space of the tiles it has left, not of the whole file, which is there already
     * (sparse): refused with a byte less than that, in one line that keeps the run; resumed with exactly that, less
     * than the file's size, to the whole kernel. Before, a resume checked nothing.
     */
    @Test
    void aResumeNeedsTheSpaceOfTheTilesLeftOnly(@TempDir Path dir) throws IOException {
        try (Params p = NET.init(1, new int[] {5}, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 2, 40, 5)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(NET, p).memoryBudget(1L << 30);
            TilePlan plan = TilePlanner.of(ntk, KernelKind.full()).tile(16).plan(40, 0, new int[] {5}, DType.F64);
            TiledKernel tk = new TiledKernel(ntk, plan, x, null);
            String fp = RunFingerprint.of(NET.spec(), p, x, null);
            Path out = dir.resolve("k.npy");
            try (TileStore store = TileStore.create(out, plan, fp)) {
                for (int t : new int[] {0, 3}) {
                    try (Tensor block = tk.computeTile(t)) {
                        store.write(plan.tile(t), block);
                    }
                }
            }
            long left = uncovered(plan, Set.of(0, 3));
            assertThat(left).isLessThan(Files.size(TileStore.partialPath(out)));
            byte[] manifest = Files.readAllBytes(TileStore.manifestPath(out));
            System.setProperty(InjectedFaults.USABLE_SPACE, Long.toString(left - 1));
            assertThatThrownBy(() -> TileStore.resume(out, plan, fp)).isInstanceOf(IOException.class)
                    .hasMessage("cannot write " + TileStore.partialPath(out) + ": no space left on device (the tiles "
                            + "left need " + org.ntk4j.ntk.CostModel.human(left) + ", "
                            + org.ntk4j.ntk.CostModel.human(left - 1) + " are free; the run is unchanged: --resume "
                            + "continues it once space is freed)");
            assertThat(Files.readAllBytes(TileStore.manifestPath(out))).isEqualTo(manifest);
            System.setProperty(InjectedFaults.USABLE_SPACE, Long.toString(left));
            try (TileStore store = TileStore.resume(out, plan, fp)) {
                assertThat(store.finishedTiles()).containsExactlyInAnyOrder(0, 3);
                tk.run(store.finishedTiles(), store::write, null);
                store.finish();
            }
            try (Tensor whole = tk.computeAll(); Tensor written = Npy.readTensor(out)) {
                assertThat(written.toDoubleArray()).isEqualTo(whole.toDoubleArray());
            }
        }
    }

    /**
     * A new run over an earlier, unfinished one (--overwrite) counts as freed what the earlier {@code OUT.partial}
     * holds, its header and recorded tiles, not its (sparse) size, which passed a run that did not fit: refused with
     * a byte less than fits, started with exactly that; an earlier file whose manifest cannot be read counts as
     * nothing.
     */
    @Test
    void aNewRunOverAnUnfinishedOneCountsOnlyWhatItsPartialHolds(@TempDir Path dir) throws IOException {
        try (Params p = NET.init(1, new int[] {5}, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 2, 40, 5)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(NET, p).memoryBudget(1L << 30);
            TilePlan plan = TilePlanner.of(ntk, KernelKind.full()).tile(16).plan(40, 0, new int[] {5}, DType.F64);
            TiledKernel tk = new TiledKernel(ntk, plan, x, null);
            String fp = RunFingerprint.of(NET.spec(), p, x, null);
            Path out = dir.resolve("k.npy");
            try (TileStore store = TileStore.create(out, plan, fp)) {
                try (Tensor block = tk.computeTile(1)) {
                    store.write(plan.tile(1), block);
                }
            }
            long size = Files.size(TileStore.partialPath(out)); // the whole file: what the new run needs
            long header = size - plan.elements() * 8;
            long held = header + uncovered(plan, Set.of()) - uncovered(plan, Set.of(1));
            assertThat(held).isLessThan(size);
            byte[] manifest = Files.readAllBytes(TileStore.manifestPath(out));
            System.setProperty(InjectedFaults.USABLE_SPACE, Long.toString(size - held - 1));
            assertThatThrownBy(() -> TileStore.create(out, plan, fp)).isInstanceOf(IOException.class)
                    .hasMessage("cannot write " + TileStore.partialPath(out) + ": no space left on device (the "
                            + "kernel needs " + org.ntk4j.ntk.CostModel.human(size) + ", "
                            + org.ntk4j.ntk.CostModel.human(size - 1) + " are free; nothing was written)");
            assertThat(Files.readAllBytes(TileStore.manifestPath(out))).isEqualTo(manifest);
            Files.writeString(TileStore.manifestPath(out), "not a manifest");
            System.setProperty(InjectedFaults.USABLE_SPACE, Long.toString(size - 1));
            assertThatThrownBy(() -> TileStore.create(out, plan, fp)).isInstanceOf(IOException.class)
                    .hasMessageEndingWith(org.ntk4j.ntk.CostModel.human(size - 1) + " are free; nothing was written)");
            Files.write(TileStore.manifestPath(out), manifest);
            System.setProperty(InjectedFaults.USABLE_SPACE, Long.toString(size - held));
            try (TileStore store = TileStore.create(out, plan, fp)) {
                assertThat(store.finishedTiles()).isEmpty();
                tk.run(store.finishedTiles(), store::write, null);
                store.finish();
            }
            try (Tensor whole = tk.computeAll(); Tensor written = Npy.readTensor(out)) {
                assertThat(written.toDoubleArray()).isEqualTo(whole.toDoubleArray());
            }
        }
    }

    private static TiledKernelRun.Result ensemble(Params p, Tensor x, Path out, Path sem, ExistingOutput existing,
                                                  TiledKernelRun.Events events) throws IOException {
        TiledKernelRun.Request q = TiledKernelRun.Request.of(NET, p, x, null, KernelKind.trace(), out)
                .withMethod(Method.AUTO, 1L << 30).withTile(16).withThreads(1).withExisting(existing)
                .withEnsemble(2, 7, sem);
        try (TiledKernelRun.Claim claim = TiledKernelRun.claim(q)) {
            return TiledKernelRun.run(q, events);
        }
    }

    /**
     * A resumed ensemble's two partial files are checked together, as a new run's are: each fits the free space
     * alone, both do not, and the resume is refused before any tile, naming both; with room for both it finishes
     * to the files of a run never stopped. Before, a resume checked neither.
     */
    @Test
    void aResumedEnsembleChecksTheTilesLeftOfBothFilesTogether(@TempDir Path dir) throws IOException {
        try (Params p = NET.init(1, new int[] {5}, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 4, 40, 5)) {
            Path refOut = dir.resolve("ref.npy");
            Path refSem = dir.resolve("ref-sem.npy");
            ensemble(p, x, refOut, refSem, ExistingOutput.REFUSE, new NoEvents());
            Path out = dir.resolve("K.npy");
            Path sem = dir.resolve("S.npy");
            assertThatThrownBy(() -> ensemble(p, x, out, sem, ExistingOutput.REFUSE,
                    TiledKernelRunTest.killedAfter(2)))
                    .hasMessageContaining("killed");
            EmpiricalNtk ntk = EmpiricalNtk.of(NET, p).memoryBudget(1L << 30);
            TilePlan plan = TilePlanner.of(ntk, KernelKind.trace()).tile(16).plan(40, 0, new int[] {5}, DType.F64);
            long leftOut = uncovered(plan, recorded(out));
            long leftSem = uncovered(plan, recorded(sem));
            assertThat(recorded(out)).hasSize(2);
            long free = leftOut + leftSem - 1; // either alone fits
            assertThat(free).isGreaterThanOrEqualTo(Math.max(leftOut, leftSem));
            byte[] manifest = Files.readAllBytes(TileStore.manifestPath(out));
            System.setProperty(InjectedFaults.USABLE_SPACE, Long.toString(free));
            assertThatThrownBy(() -> ensemble(p, x, out, sem, ExistingOutput.RESUME, new NoEvents()))
                    .isInstanceOf(IOException.class)
                    .hasMessage("cannot write " + TileStore.partialPath(out) + " and " + TileStore.partialPath(sem)
                            + ": no space left on device (the tiles left of the kernel and its standard error need "
                            + org.ntk4j.ntk.CostModel.human(leftOut + leftSem) + ", "
                            + org.ntk4j.ntk.CostModel.human(free) + " are free; the run is unchanged: --resume "
                            + "continues it once space is freed)");
            assertThat(Files.readAllBytes(TileStore.manifestPath(out))).isEqualTo(manifest);
            System.setProperty(InjectedFaults.USABLE_SPACE, Long.toString(leftOut + leftSem));
            TiledKernelRun.Result r = ensemble(p, x, out, sem, ExistingOutput.RESUME, new NoEvents());
            assertThat(r.resumed()).isEqualTo(2);
            assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(refOut));
            assertThat(Files.readAllBytes(sem)).isEqualTo(Files.readAllBytes(refSem));
        }
    }

    /**
     * A caller's file of the finished run (a report) that cannot be written leaves OUT and SEM finished, renamed,
     * with their manifests: a resume checks them, computes no tile, tells the caller again and removes the
     * manifests; the files are those of a run never stopped.
     */
    @Test
    void aReportThatFailsAfterTheKernelLeavesARunThatResumesWithoutATile(@TempDir Path dir) throws IOException {
        try (Params p = NET.init(1, new int[] {5}, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 4, 40, 5)) {
            Path refOut = dir.resolve("ref.npy");
            Path refSem = dir.resolve("ref-sem.npy");
            ensemble(p, x, refOut, refSem, ExistingOutput.REFUSE, new NoEvents());
            Path out = dir.resolve("K.npy");
            Path sem = dir.resolve("S.npy");
            List<Integer> told = new ArrayList<>();
            NoEvents failing = new NoEvents() {
                @Override
                public void finished(TiledKernelRun.Result r) throws IOException {
                    told.add(r.computed());
                    throw new IOException("cannot write report.json: no space left on device");
                }
            };
            assertThatThrownBy(() -> ensemble(p, x, out, sem, ExistingOutput.REFUSE, failing))
                    .hasMessage("cannot write report.json: no space left on device");
            assertThat(told).containsExactly(6);
            for (Path f : new Path[] {out, sem}) {
                assertThat(f).exists();
                assertThat(TileStore.manifestPath(f)).exists();
                assertThat(TileStore.partialPath(f)).doesNotExist();
            }
            NoEvents reporting = new NoEvents() {
                @Override
                public void finished(TiledKernelRun.Result r) {
                    told.add(r.computed());
                    assertThat(TileStore.manifestPath(out)).exists(); // still resumable while the report is written
                }
            };
            TiledKernelRun.Result r = ensemble(p, x, out, sem, ExistingOutput.RESUME, reporting);
            assertThat(r.computed()).isZero();
            assertThat(r.resumed()).isEqualTo(6);
            assertThat(told).containsExactly(6, 0);
            assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(refOut));
            assertThat(Files.readAllBytes(sem)).isEqualTo(Files.readAllBytes(refSem));
            for (Path f : new Path[] {out, sem}) {
                assertThat(TileStore.manifestPath(f)).doesNotExist();
            }
        }
    }
}
