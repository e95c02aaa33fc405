package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Model;
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
 * The tile store writes the same file as writing the whole kernel at once, across mapped regions that split
 * rows and elements (the 2 GiB case in miniature); rewriting a tile is idempotent and recorded once; the file
 * is named OUT only when complete.
 */
class TileStoreTest {
    /** fcn(depth=1,width=8,out=3) on 40 seeded inputs of [5]: its tiles of 16 for a kind, and the run's fingerprint. */
    private static final class Run implements AutoCloseable {
        final Params params;
        final Tensor x;
        final TilePlan plan;
        final TiledKernel tk;
        final String fp;

        Run(KernelKind kind, DType dtype) {
            Model m = Zoo.parse("fcn(depth=1,width=8,out=3)");
            int[] in = {5};
            params = m.init(1, in, dtype);
            x = Tensor.randomNormal(dtype, 2, 40, 5);
            EmpiricalNtk ntk = EmpiricalNtk.of(m, params).memoryBudget(1L << 30);
            plan = TilePlanner.of(ntk, kind).tile(16).plan(40, 0, in, dtype);
            tk = new TiledKernel(ntk, plan, x, null);
            fp = RunFingerprint.of(m.spec(), params, x, null);
        }

        @Override
        public void close() {
            x.close();
            params.close();
        }
    }

    @Test
    void tilesWrittenAcrossSmallRegionsGiveTheWholeFile(@TempDir Path dir) throws IOException {
        Model m = Zoo.parse("fcn(depth=1,width=8,out=3)");
        int[] in = {5};
        try (Params p = m.init(1, in, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 2, 40, 5)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).memoryBudget(1L << 30);
            for (KernelKind kind : new KernelKind[] {KernelKind.full(), KernelKind.parse("diagonal", 0),
                KernelKind.trace()}) {
                TilePlan plan = TilePlanner.of(ntk, kind).tile(16).plan(40, 0, in, DType.F64);
                Path whole = dir.resolve(kind + "-whole.npy");
                TiledKernel tk = new TiledKernel(ntk, plan, x, null);
                try (Tensor k = tk.computeAll()) {
                    Npy.write(whole, k);
                }
                Path out = dir.resolve(kind + ".npy");
                String fp = RunFingerprint.of(m.spec(), p, x, null);
                // 4099-byte regions: element and row boundaries fall inside regions and across them
                try (TileStore store = TileStore.create(out, plan, fp, 4099)) {
                    for (TilePlan.Tile t : plan.tiles()) {
                        try (Tensor block = tk.computeTile(t.index())) {
                            store.write(t, block);
                            store.write(t, block); // a retried tile: same bytes, recorded once
                        }
                        assertThat(out).doesNotExist();
                    }
                    assertThat(store.finishedTiles()).hasSize(plan.tileCount());
                    String manifest = Files.readString(TileStore.manifestPath(out), StandardCharsets.UTF_8);
                    assertThat(manifest.lines().filter(l -> l.startsWith("tile "))).hasSize(plan.tileCount());
                    store.finish();
                }
                assertThat(Files.readAllBytes(out)).as("%s", kind).isEqualTo(Files.readAllBytes(whole));
                assertThat(TileStore.manifestPath(out)).doesNotExist();
                assertThat(TileStore.partialPath(out)).doesNotExist();
            }
        }
    }

    /**
     * A full disk as a new run writes its manifest (OUT.partial is sparse, so its space check passes): the run does
     * not start and leaves nothing behind, neither OUT.partial without a manifest, which the next run would refuse
     * without --overwrite, nor the manifest's temporary file. The longest output name allowed
     * ({@link OutputFiles#MAX_NAME_BYTES}) leaves room for that temporary file.
     */
    @Test
    void aManifestThatCannotBeWrittenLeavesNothingBehind(@TempDir Path dir) throws IOException {
        try (Run r = new Run(KernelKind.full(), DType.F32)) {
            Path out = dir.resolve("k.npy");
            System.setProperty(InjectedFaults.PROPERTY, "k.npy.manifest@10");
            try {
                assertThatThrownBy(() -> TileStore.create(out, r.plan, r.fp)).isInstanceOf(IOException.class)
                        .hasMessage("cannot write " + TileStore.manifestPath(out) + ": no space left on device (no "
                                + "k.npy.manifest was written)");
            } finally {
                System.clearProperty(InjectedFaults.PROPERTY);
            }
            try (java.util.stream.Stream<Path> left = Files.list(dir)) {
                assertThat(left).isEmpty();
            }
            Path longest = dir.resolve("a".repeat(OutputFiles.MAX_NAME_BYTES - 4) + ".npy");
            try (TileStore store = TileStore.create(longest, r.plan, r.fp)) {
                r.tk.run(store.finishedTiles(), store::write, null);
                store.finish();
            }
            try (Tensor all = r.tk.computeAll(); Tensor read = Npy.readTensor(longest)) {
                assertThat(read.toFloatArray()).containsExactly(all.toFloatArray());
            }
        }
    }

    /**
     * A file another program writes at OUT during a run that began without one is not replaced by the finish: the
     * finish fails naming it, the file keeps its bytes, and once it is moved away the run resumes to the kernel.
     */
    @Test
    void aFileThatAppearsAtOutDuringTheRunIsNotReplaced(@TempDir Path dir) throws IOException {
        try (Run r = new Run(KernelKind.full(), DType.F32)) {
            Path out = dir.resolve("k.npy");
            byte[] theirs = "another program's file".getBytes(StandardCharsets.UTF_8);
            try (TileStore store = TileStore.create(out, r.plan, r.fp)) {
                r.tk.run(store.finishedTiles(), store::write, null);
                Files.write(out, theirs);
                assertThatThrownBy(store::finish).isInstanceOf(IOException.class)
                        .hasMessage(out + " appeared during the run (another program wrote it) and was not replaced:"
                                + " the finished kernel is kept in " + TileStore.partialPath(out) + "; move k.npy away"
                                + " and run the same command with --resume to finish");
            }
            assertThat(Files.readAllBytes(out)).isEqualTo(theirs);
            assertThat(TileStore.partialPath(out)).exists();
            Files.move(out, dir.resolve("theirs.npy"));
            try (TileStore store = TileStore.resume(out, r.plan, r.fp)) {
                assertThat(store.finishedTiles()).hasSize(r.plan.tileCount());
                store.finish();
            }
            try (Tensor all = r.tk.computeAll(); Tensor read = Npy.readTensor(out)) {
                assertThat(read.toFloatArray()).containsExactly(all.toFloatArray());
            }
            assertThat(TileStore.manifestPath(out)).doesNotExist();
        }
    }

    /**
     * An output checked as new (no --overwrite) is not replaced by the command's write when a file appeared there
     * meanwhile; once the command wrote it, it is its own and is written again; with --overwrite it is replaced.
     */
    @Test
    void anOutputCheckedAsNewIsNotReplacedByTheWriteIfAFileAppearedThere(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("k.npy");
        Path mine = dir.resolve("mine.npy");
        byte[] theirs = "another program's file".getBytes(StandardCharsets.UTF_8);
        try (Tensor t = Tensor.of(new double[] {1, 2, 3}, 3)) {
            OutputFiles.refusingExisting().output("--out", out, ".npy").output("--cov", mine, ".npy").check();
            Files.write(out, theirs);
            assertThatThrownBy(() -> Npy.write(out, t)).isInstanceOf(IOException.class)
                    .hasMessage("cannot write " + out + ": it appeared while the command ran (another program wrote "
                            + "it) and was not replaced; pass --overwrite to replace it (the file there is unchanged)");
            assertThat(Files.readAllBytes(out)).isEqualTo(theirs);
            Npy.write(mine, t);
            Npy.write(mine, t); // the command's own file, written again
            try (java.util.stream.Stream<Path> files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("k.npy", "mine.npy");
            }
            OutputFiles.replacingExisting().output("--out", out, ".npy").check();
            Npy.write(out, t);
            try (Tensor read = Npy.readTensor(out)) {
                assertThat(read.toDoubleArray()).containsExactly(1, 2, 3);
            }
            OutputFiles.refusingExisting().output("--out", dir.resolve("later.npy"), ".npy").check();
            AtomicFile.forgetNewFiles(); // the command ended: a later write replaces as it is told
            Files.write(dir.resolve("later.npy"), theirs);
            Npy.write(dir.resolve("later.npy"), t);
            assertThat(Files.readAllBytes(dir.resolve("later.npy"))).isNotEqualTo(theirs);
        } finally {
            AtomicFile.forgetNewFiles();
        }
    }

    /** A finished run that replaces an earlier OUT keeps that file's permission bits, as AtomicFile does. */
    @Test
    void aReplacedKernelKeepsItsPermissions(@TempDir Path dir) throws IOException {
        try (Run r = new Run(KernelKind.full(), DType.F32)) {
            Path out = Files.writeString(dir.resolve("k.npy"), "old");
            Files.setPosixFilePermissions(out, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            try (TileStore store = TileStore.create(out, r.plan, r.fp)) {
                r.tk.run(store.finishedTiles(), store::write, null);
                store.finish();
            }
            assertThat(Npy.readHeader(out).shape()).containsExactly(40, 40, 3, 3);
            assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(out)))
                    .isEqualTo("rw-------");
        }
    }

    /**
     * Tiles that a data-only writer (a Spark task) wrote in full and noted in its journal, but whose owner was killed
     * before it recorded them, are recorded by the resumed run and not computed again; a noted tile whose bytes in
     * OUT.partial no longer match, a journal of another run (another header) and a torn last line are not taken. The
     * journals are gone once the resume has read them, and a new run over the same OUT drops an earlier run's.
     */
    @Test
    void tilesAWriterNotedAreRecordedByTheResumedRunWhereTheFileHoldsThem(@TempDir Path dir) throws IOException {
        try (Run r = new Run(KernelKind.full(), DType.F64)) {
            Path out = dir.resolve("k.npy");
            Path whole = dir.resolve("whole.npy");
            try (Tensor k = r.tk.computeAll()) {
                Npy.write(whole, k);
            }
            java.util.Map<Integer, Long> crcs = new java.util.HashMap<>();
            try (TileStore owner = TileStore.create(out, r.plan, r.fp)) {
                try (Tensor b = r.tk.computeTile(0)) {
                    owner.write(r.plan.tile(0), b); // recorded by the owner, as a task whose result arrived
                }
                try (TileStore writer = TileStore.openData(out, r.plan)) {
                    for (int t = 1; t <= 4; t++) {
                        try (Tensor b = r.tk.computeTile(t)) {
                            long crc = writer.writeData(r.plan.tile(t), b);
                            crcs.put(t, crc);
                            // tile 4 is written but not noted: a task killed between the two
                            if (t < 4) {
                                assertThat(writer.journal(r.plan.tile(t), crc)).isTrue();
                            }
                        }
                    }
                    assertThatThrownBy(() -> owner.journal(r.plan.tile(1), crcs.get(1)))
                            .isInstanceOf(IllegalStateException.class);
                }
            } // the owner "killed": tiles 1..4 are in OUT.partial, the manifest records tile 0 only
            Path journals = TileStore.journalPath(out);
            String run;
            try (java.util.stream.Stream<Path> files = Files.list(journals)) {
                Path journal = files.findFirst().orElseThrow();
                run = journal.getFileName().toString().substring(0, journal.getFileName().toString().indexOf('-'));
                // a torn line after the notes (a writer killed while appending): ignored
                Files.writeString(journal, "tile 5 1234", StandardCharsets.UTF_8,
                        java.nio.file.StandardOpenOption.APPEND);
            }
            // another run's journal noting tile 5 with its right checksum, and a note of tile 3 with wrong bytes
            try (Tensor b = r.tk.computeTile(5)) {
                long crc5;
                try (TileStore writer = TileStore.openData(out, r.plan)) {
                    crc5 = writer.writeData(r.plan.tile(5), b);
                }
                Files.writeString(journals.resolve("0" + run + "-" + java.util.UUID.randomUUID()), noteLine(5, crc5));
            }
            try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(TileStore.partialPath(out).toFile(), "rw")) {
                long at = Files.size(TileStore.partialPath(out)) - r.plan.elements() * 8
                        + ((long) r.plan.tile(3).rowFrom() * 40 + r.plan.tile(3).columnFrom()) * 9 * 8;
                f.seek(at);
                f.write(new byte[] {1, 2, 3});
            }
            try (TileStore resumed = TileStore.resume(out, r.plan, r.fp)) {
                assertThat(resumed.finishedTiles()).containsExactlyInAnyOrder(0, 1, 2);
                assertThat(journals).doesNotExist();
                r.tk.run(resumed.finishedTiles(), resumed::write, null);
                resumed.finish();
            }
            assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(whole));

            // a new run over OUT: an earlier run's journals are not its own
            Files.createDirectories(journals);
            Files.writeString(journals.resolve(run + "-" + java.util.UUID.randomUUID()), noteLine(1, crcs.get(1)));
            try (TileStore fresh = TileStore.create(out, r.plan, r.fp)) {
                assertThat(journals).doesNotExist();
                assertThat(fresh.finishedTiles()).isEmpty();
            }
            // a directory of the user's at that name: only files named as journals are removed
            Files.createDirectories(journals);
            Files.writeString(journals.resolve("notes.txt"), "mine");
            TileStore.deleteJournals(out);
            assertThat(journals.resolve("notes.txt")).hasContent("mine");
        }
    }

    /**
     * A writer of a run that was started again with other inputs since (a task of a killed driver that opens the
     * file after the new run began) is refused: its tiles are not the new run's, yet its journal would name the new
     * run, whose resume recorded them where the file held them — a silently wrong kernel. A writer of the run as it
     * is, or one that names no run, is let in.
     */
    @Test
    void aWriterOfARunStartedAgainWithOtherInputsIsRefused(@TempDir Path dir) throws IOException {
        try (Run r = new Run(KernelKind.full(), DType.F64)) {
            Path out = dir.resolve("k.npy");
            String old;
            try (TileStore first = TileStore.create(out, r.plan, r.fp)) {
                old = first.run();
                assertThat(old).matches("[0-9a-f]+");
                try (TileStore writer = TileStore.openData(out, r.plan, old)) {
                    assertThat(writer.run()).isNull();
                }
            }
            try (TileStore again = TileStore.create(out, r.plan, r.fp)) {
                assertThat(again.run()).isEqualTo(old); // the same inputs: the same run, whose tiles are the same
            }
            String otherFp = RunFingerprint.of("fcn(depth=2,width=8,out=3)", r.params, r.x, null);
            try (TileStore other = TileStore.create(out, r.plan, otherFp)) {
                assertThat(other.run()).isNotEqualTo(old);
                assertThatThrownBy(() -> TileStore.openData(out, r.plan, old)).isInstanceOf(IOException.class)
                        .hasMessageContaining("another run's").hasMessageContaining(old);
                try (TileStore mine = TileStore.openData(out, r.plan, other.run());
                     Tensor b = r.tk.computeTile(0)) {
                    assertThat(mine.journal(r.plan.tile(0), mine.writeData(r.plan.tile(0), b))).isTrue();
                }
            }
        }
    }

    /**
     * OUT.journal as a link to a directory elsewhere: no journal is written through it (resume and deleteJournals
     * never follow it, so the notes would be of no use and stay in the user's directory).
     */
    @Test
    void noJournalIsWrittenThroughALink(@TempDir Path dir) throws IOException {
        try (Run r = new Run(KernelKind.full(), DType.F64)) {
            Path out = dir.resolve("k.npy");
            Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
            Files.createSymbolicLink(TileStore.journalPath(out), elsewhere);
            try (TileStore owner = TileStore.create(out, r.plan, r.fp)) {
                // create removes journals, never the link itself or what is behind it
                assertThat(TileStore.journalPath(out)).isSymbolicLink();
                try (TileStore writer = TileStore.openData(out, r.plan, owner.run());
                     Tensor b = r.tk.computeTile(0)) {
                    assertThat(writer.journal(r.plan.tile(0), writer.writeData(r.plan.tile(0), b))).isFalse();
                }
            }
            try (java.util.stream.Stream<Path> files = Files.list(elsewhere)) {
                assertThat(files).isEmpty();
            }
        }
    }

    /** A journal's line for tile {@code index}, as {@link TileStore#journal} writes it. */
    private static String noteLine(int index, long crc) {
        String line = "tile " + index + " " + Long.toHexString(crc);
        java.util.zip.CRC32C c = new java.util.zip.CRC32C();
        c.update(line.getBytes(StandardCharsets.UTF_8));
        return line + " " + Long.toHexString(c.getValue()) + "\n";
    }

    @Test
    void anIncompleteStoreCannotFinishAndResumesWhereItStopped(@TempDir Path dir) throws IOException {
        try (Run r = new Run(KernelKind.full(), DType.F32)) {
            TilePlan plan = r.plan;
            TiledKernel tk = r.tk;
            String fp = r.fp;
            Path out = dir.resolve("k.npy");
            assertThat(TileStore.recordedTileCount(out)).isZero(); // no manifest
            try (TileStore store = TileStore.create(out, plan, fp)) {
                assertThat(TileStore.recordedTileCount(out)).isZero();
                try (Tensor block = tk.computeTile(0)) {
                    store.write(plan.tile(0), block);
                }
                assertThat(TileStore.recordedTileCount(out)).isEqualTo(1);
                assertThatThrownBy(store::finish).isInstanceOf(IOException.class)
                        .hasMessageContaining(plan.tileCount() - 1 + " of " + plan.tileCount() + " tiles are missing");
            }
            // a crash in the middle of recording tile 1: its line torn, without a newline
            Files.writeString(TileStore.manifestPath(out), "tile 1 12ab", StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.APPEND);
            assertThat(TileStore.recordedTileCount(out)).as("a torn line is not a recorded tile").isEqualTo(1);
            try (TileStore store = TileStore.resume(out, plan, fp)) {
                assertThat(store.finishedTiles()).containsExactly(0);
                tk.run(store.finishedTiles(), store::write, null);
                store.finish();
            }
            assertThat(tk.tilesComputed()).isEqualTo(1 + plan.tileCount() - 1);
            try (Tensor all = tk.computeAll(); Tensor read = Npy.readTensor(out)) {
                assertThat(read.toFloatArray()).containsExactly(all.toFloatArray());
            }
        }
    }

    /**
     * OUT.manifest deleted mid-run under two workers: the first to notice removes OUT.partial, and every later
     * write (the second worker's) and the finish report the manifest, not the partial file the store removed.
     */
    @Test
    void aDeletedManifestIsWhatEveryWorkerReports(@TempDir Path dir) throws IOException {
        try (Run r = new Run(KernelKind.trace(), DType.F32)) {
            TilePlan plan = r.plan;
            TiledKernel tk = r.tk;
            Path out = dir.resolve("k3.npy");
            try (TileStore store = TileStore.create(out, plan, r.fp)) {
                try (Tensor block = tk.computeTile(0)) {
                    store.write(plan.tile(0), block);
                }
                Files.delete(TileStore.manifestPath(out));
                String expected = TileStore.manifestPath(out) + " was deleted or replaced during the run; the run "
                        + "stopped and " + TileStore.partialPath(out) + " is removed (run the command again to start "
                        + "over)";
                for (int t = 1; t <= 2; t++) { // worker 1, then worker 2
                    TilePlan.Tile tile = plan.tile(t);
                    try (Tensor block = tk.computeTile(t)) {
                        assertThatThrownBy(() -> store.write(tile, block)).as("tile %d", t)
                                .isInstanceOf(IOException.class).hasMessage(expected);
                    }
                }
                assertThatThrownBy(store::finish).isInstanceOf(IOException.class).hasMessage(expected);
                assertThat(TileStore.partialPath(out)).doesNotExist();
            }
        }
    }

    /**
     * A finish killed between renaming OUT.partial to OUT and removing the manifest: resuming recognises OUT by
     * the manifest's checksums and finishes (removes the manifest); an OUT that is not the run's is refused.
     */
    @Test
    void aRunKilledAfterItsRenameResumesAndFinishes(@TempDir Path dir) throws IOException {
        try (Run r = new Run(KernelKind.full(), DType.F64)) {
            TilePlan plan = r.plan;
            TiledKernel tk = r.tk;
            String fp = r.fp;
            Path out = dir.resolve("k.npy");
            try (TileStore store = TileStore.create(out, plan, fp)) {
                tk.run(store.finishedTiles(), store::write, null);
            }
            Files.move(TileStore.partialPath(out), out); // the finish's rename, then the kill
            byte[] kernel = Files.readAllBytes(out);
            try (TileStore store = TileStore.resume(out, plan, fp)) {
                assertThat(store.finishedTiles()).hasSize(plan.tileCount());
                store.finish();
            }
            assertThat(Files.readAllBytes(out)).isEqualTo(kernel);
            assertThat(TileStore.manifestPath(out)).doesNotExist();
            assertThat(TileStore.partialPath(out)).doesNotExist();
            try (Tensor all = tk.computeAll(); Tensor read = Npy.readTensor(out)) {
                assertThat(read.toDoubleArray()).containsExactly(all.toDoubleArray());
            }
            // the same state, but OUT is another file: not the run's kernel
            try (TileStore store = TileStore.create(out, plan, fp)) {
                tk.run(store.finishedTiles(), store::write, null);
            }
            Files.move(TileStore.partialPath(out), out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            kernel[kernel.length - 1] ^= 1;
            Files.write(out, kernel);
            assertThatThrownBy(() -> TileStore.resume(out, plan, fp)).isInstanceOf(IOException.class)
                    .hasMessage("--resume: no unfinished run at " + out + " (" + TileStore.partialPath(out) + " does "
                            + "not exist) and " + out + " does not hold the tiles " + TileStore.manifestPath(out)
                            + " records: it is not this run's kernel; delete " + TileStore.manifestPath(out)
                            + " to start again");
        }
    }

    /**
     * A resume refused for another fingerprint names the parts that differ, when the manifest records them; a
     * manifest without them (written before 2026-12-06, or by a caller that gives none) still resumes, and is refused
     * for another run in the words of before.
     */
    @Test
    void aForeignRunIsRefusedNamingThePartsThatDiffer(@TempDir Path dir) throws IOException {
        try (Run r = new Run(KernelKind.full(), DType.F32);
             Params other = Zoo.parse("fcn(depth=1,width=8,out=3)").init(9, new int[] {5}, DType.F32);
             Tensor y = Tensor.randomNormal(DType.F32, 3, 40, 5)) {
            String spec = "fcn(depth=1,width=8,out=3)";
            String parts = RunFingerprint.parts(spec, r.params, r.x, null);
            Path out = dir.resolve("k.npy");
            try (TileStore store = TileStore.create(out, r.plan, r.fp, parts); Tensor block = r.tk.computeTile(0)) {
                store.write(r.plan.tile(0), block);
            }
            String[][] cases = {
                {RunFingerprint.of(spec, other, r.x, null), RunFingerprint.parts(spec, other, r.x, null),
                    "the parameters differ"},
                {RunFingerprint.of(spec, r.params, y, null), RunFingerprint.parts(spec, r.params, y, null),
                    "x1 differs"},
                {RunFingerprint.of(spec, r.params, r.x, y), RunFingerprint.parts(spec, r.params, r.x, y),
                    "x2 differs"},
                {RunFingerprint.of("fcn(depth=1,width=8,out=3,b_std=0)", other, y, null),
                    RunFingerprint.parts("fcn(depth=1,width=8,out=3,b_std=0)", other, y, null),
                    "the model and the parameters and x1 differ"},
            };
            for (String[] c : cases) {
                assertThatThrownBy(() -> TileStore.resume(out, r.plan, c[0], c[1])).isInstanceOf(IOException.class)
                        .hasMessage("--resume: " + TileStore.manifestPath(out) + " was written for another run: its "
                                + "fingerprint is " + r.fp + ", this run's is " + c[0] + " (" + c[2] + ")");
            }
            try (TileStore store = TileStore.resume(out, r.plan, r.fp, parts)) {
                assertThat(store.finishedTiles()).containsExactly(0);
            }
            // a manifest without the parts: resumed with them, refused without naming a part
            Path old = dir.resolve("old.npy");
            try (TileStore store = TileStore.create(old, r.plan, r.fp); Tensor block = r.tk.computeTile(1)) {
                store.write(r.plan.tile(1), block);
            }
            try (TileStore store = TileStore.resume(old, r.plan, r.fp, parts)) {
                assertThat(store.finishedTiles()).containsExactly(1);
            }
            assertThatThrownBy(() -> TileStore.resume(old, r.plan, cases[0][0], cases[0][1]))
                    .isInstanceOf(IOException.class).hasMessageEndingWith(" (another model, parameters or data)");
        }
    }

    /**
     * Recording a tile reads only what was appended to the manifest since the last record, also what another
     * process appended: a run of T tiles reads the manifest about once, not T times (before 2026-12-06 every record
     * read and parsed it whole, and 31,375 tiles of 16 spent a third of their time doing so).
     */
    @Test
    void recordingATileReadsOnlyWhatWasAppended(@TempDir Path dir) throws IOException {
        try (Run r = new Run(KernelKind.full(), DType.F32)) {
            Path out = dir.resolve("k.npy");
            Path manifest = TileStore.manifestPath(out);
            try (TileStore store = TileStore.create(out, r.plan, r.fp);
                 TileStore other = TileStore.resume(out, r.plan, r.fp)) {
                for (TilePlan.Tile t : r.plan.tiles()) {
                    try (Tensor block = r.tk.computeTile(t.index())) {
                        // every other tile through a second store, as another process records one
                        (t.index() % 2 == 0 ? store : other).write(t, block);
                    }
                }
                long size = Files.size(manifest);
                assertThat(store.manifestBytesRead()).isLessThanOrEqualTo(size);
                assertThat(other.manifestBytesRead()).isLessThanOrEqualTo(size);
                // each store knows the other's tiles once it reads them: rewriting one appends nothing
                try (Tensor block = r.tk.computeTile(1)) {
                    store.write(r.plan.tile(1), block);
                }
                assertThat(Files.size(manifest)).isEqualTo(size);
                store.finish();
            }
            try (Tensor all = r.tk.computeAll(); Tensor read = Npy.readTensor(out)) {
                assertThat(read.toFloatArray()).containsExactly(all.toFloatArray());
            }
        }
    }
}
