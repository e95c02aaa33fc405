package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.tensor.Tensor;

/**
 * The output policy: outputs checked before any work ({@link OutputFiles}), written whole or not at all
 * ({@link AtomicFile}, a full disk injected), and a tiled run's claim on OUT ({@link TileStore#lock}).
 */
class OutputFilesTest {
    @TempDir
    Path dir;

    @AfterEach
    void clearInjection() {
        System.clearProperty(InjectedFaults.PROPERTY);
    }

    private Path file(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    private String refusal(OutputFiles files) {
        return assertThatThrownBy(files::check).isInstanceOf(IllegalArgumentException.class).actual().getMessage();
    }

    @Test
    void anInputIsNeverAnOutputEvenWithOverwrite() throws IOException {
        Path self = file("self.npy", "x");
        for (OutputFiles files : new OutputFiles[] {OutputFiles.refusingExisting(), OutputFiles.replacingExisting()}) {
            assertThat(refusal(files.inputSource("--data", self + ":labels=y.npy:4")
                    .output("--out", self, ".npy"))).isEqualTo("--out " + self + " is the input given to --data; "
                    + "choose another file");
        }
        // the same file by another name, and a labels file
        Path labels = file("y.npy", "y");
        assertThat(refusal(OutputFiles.replacingExisting().inputSource("--train", "npy:" + self + ":labels=" + labels)
                .output("--out", dir.resolve(".").resolve("y.npy"), ".npy")))
                .contains("is the input given to --train");
        assertThat(DataSource.files("synthetic:4,3")).isEmpty();
        assertThat(DataSource.files("default:train:5")).isEmpty();
    }

    @Test
    void anExistingOutputNeedsOverwrite() throws IOException {
        Path k = file("K.npy", "old");
        assertThat(refusal(OutputFiles.refusingExisting().output("--out", k, ".npy")))
                .isEqualTo("--out " + k + " exists; pass --overwrite to replace it");
        OutputFiles.replacingExisting().output("--out", k, ".npy").check();
        OutputFiles.refusingExisting().output("--out", dir.resolve("new.npy"), ".npy").check();
        Path plots = Files.createDirectory(dir.resolve("plots"));
        Files.writeString(plots.resolve("spectrum.png"), "png");
        assertThat(refusal(OutputFiles.refusingExisting().outputIn("--plots", plots, "spectrum.png")))
                .isEqualTo("--plots " + plots.resolve("spectrum.png") + " exists; pass --overwrite to replace it");
        OutputFiles.refusingExisting().outputIn("--plots", dir.resolve("a/b"), "spectrum.png").check(); // created later
    }

    @Test
    void theExtensionMustBeWhatIsWritten() {
        assertThat(refusal(OutputFiles.replacingExisting().output("--out", dir.resolve("notes.txt"), ".npy")))
                .isEqualTo("--out " + dir.resolve("notes.txt") + ": the output is a .npy file; give a name ending "
                        + "in .npy");
        assertThat(refusal(OutputFiles.replacingExisting().output("--params-out", dir.resolve("k.npy"), ".npz")))
                .contains("give a name ending in .npz");
        assertThat(refusal(OutputFiles.replacingExisting().output("--report", dir.resolve(".json"), ".json")))
                .contains("give a name ending in .json");
    }

    @Test
    void aNameTooLongForTheFilesWrittenBesideItIsRefusedBeforeTheWork() throws IOException {
        // 220 + ".npy" = 224 bytes: the longest file beside it, the temporary file of a tiled run's manifest
        // (".NAME.manifest.tmp-" and 16 hex digits), still fits 255
        String longest = "a".repeat(220) + ".npy";
        OutputFiles.refusingExisting().output("--out", dir.resolve(longest), ".npy").check();
        Files.writeString(dir.resolve("." + longest + ".manifest.tmp-" + "f".repeat(16)), "fits");
        String tooLong = "a".repeat(221) + ".json";
        assertThat(refusal(OutputFiles.refusingExisting().output("--report", dir.resolve(tooLong), ".json")))
                .isEqualTo("--report: the file name " + "a".repeat(24) + "….json is 226 bytes long; at most 224 (the "
                        + "file system's 255 less the temporary file written beside it)");
        // counted in bytes: 111 two-byte letters are 222 bytes
        assertThat(refusal(OutputFiles.refusingExisting().output("--out", dir.resolve("é".repeat(111) + ".npy"),
                ".npy")))
                .contains("is 226 bytes long; at most 224");
        assertThat(refusal(OutputFiles.refusingExisting().outputIn("--plots", dir.resolve("p".repeat(256)), "a.png")))
                .isEqualTo("--plots " + "p".repeat(24) + "…: a directory name of more than 255 bytes (the file "
                        + "system's limit)");
    }

    @Test
    void directoriesAndMissingParentsAreRefused() throws IOException {
        Path d = Files.createDirectory(dir.resolve("d.npy"));
        assertThat(refusal(OutputFiles.replacingExisting().output("--out", d, ".npy")))
                .isEqualTo("--out " + d + " is a directory; give a file name");
        Path missing = dir.resolve("nonexist/r.json");
        assertThat(refusal(OutputFiles.replacingExisting().output("--report", missing, ".json")))
                .isEqualTo("--report " + missing + ": directory " + dir.resolve("nonexist") + " does not exist");
        Path notDir = file("f", "x");
        assertThat(refusal(OutputFiles.replacingExisting().output("--report", notDir.resolve("r.json"), ".json")))
                .contains(notDir + " is not a directory");
        assertThat(refusal(OutputFiles.replacingExisting().outputIn("--plots", notDir, "heatmap.png")))
                .isEqualTo("--plots " + notDir + " is not a directory");
    }

    @Test
    void twoOutputsMustDiffer() {
        Path r = dir.resolve("r.npy");
        assertThat(refusal(OutputFiles.replacingExisting().output("--out", r, ".npy").output("--eigenvalues-out",
                dir.resolve("x/../r.npy"), ".npy"))).isEqualTo("--out and --eigenvalues-out are the same file, "
                + dir.resolve("x/../r.npy") + "; give each its own");
    }

    private static String[] tempFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.contains(".tmp-")).toArray(String[]::new);
        }
    }

    @Test
    void aFailedWriteLeavesThePreviousFileAndNoTemporary() throws IOException {
        Path k = dir.resolve("K.npy");
        try (Tensor small = Tensor.of(new double[] {1, 2, 3}, 3); Tensor big = Tensor.of(new double[400], 20, 20)) {
            Npy.write(k, small);
            byte[] before = Files.readAllBytes(k);
            System.setProperty(InjectedFaults.PROPERTY, "K.npy");
            assertThatThrownBy(() -> Npy.write(k, big)).isInstanceOf(IOException.class)
                    .hasMessage("cannot write " + k + ": no space left on device (the previous K.npy is unchanged)");
            assertThat(Files.readAllBytes(k)).isEqualTo(before);
            assertThat(tempFiles(dir)).isEmpty();
            Path fresh = dir.resolve("fresh.json");
            System.setProperty(InjectedFaults.PROPERTY, "fresh.json@10");
            assertThatThrownBy(() -> new JsonReport().put("a", "a long enough value").write(fresh))
                    .hasMessage("cannot write " + fresh + ": no space left on device (no fresh.json was written)");
            assertThat(fresh).doesNotExist();
            System.clearProperty(InjectedFaults.PROPERTY);
            Npy.write(k, big);
            assertThat(Npy.readHeader(k).shape()).containsExactly(20, 20);
            assertThat(tempFiles(dir)).isEmpty();
        }
    }

    /** A replaced file keeps its permission bits (a private 0600 file does not become world-readable). */
    @Test
    void aReplacedFileKeepsItsPermissions() throws IOException {
        Path f = dir.resolve("r.json");
        AtomicFile.writeString(f, "old");
        java.util.Set<java.nio.file.attribute.PosixFilePermission> owner =
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------");
        Files.setPosixFilePermissions(f, owner);
        AtomicFile.writeString(f, "new");
        assertThat(Files.readString(f)).isEqualTo("new");
        assertThat(Files.getPosixFilePermissions(f)).isEqualTo(owner);
        Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r-----"));
        AtomicFile.writeString(f, "newer");
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(f)))
                .isEqualTo("rw-r-----");
    }

    @Test
    void aBodyThatClosesItsChannelStillGivesTheWholeFile() throws IOException {
        Path f = dir.resolve("a.bin");
        AtomicFile.write(f, ch -> {
            ch.write(ByteBuffer.wrap("abc".getBytes(StandardCharsets.US_ASCII)));
            ch.close();
        });
        assertThat(Files.readString(f)).isEqualTo("abc");
    }

    @Test
    void aSecondClaimOnOutIsRefusedUntilTheFirstIsReleased() throws IOException {
        Path out = dir.resolve("k.npy");
        try (TileStore.RunLock first = TileStore.lock(out)) {
            assertThat(TileStore.lockPath(out)).exists();
            assertThatThrownBy(() -> TileStore.lock(out)).isInstanceOf(IOException.class)
                    .hasMessage("another ntk4j is writing " + out);
        }
        assertThat(TileStore.lockPath(out)).doesNotExist();
        TileStore.lock(out).close(); // free again
    }

    /**
     * An output that is a symbolic link is followed, as the shell's {@code >} follows it: the target is replaced
     * (its temporary file in the target's directory) and the link stays a link; a dangling link creates its
     * target.
     */
    @Test
    void aSymbolicLinkIsFollowedAndStaysALink() throws IOException {
        Path real = Files.createDirectory(dir.resolve("real"));
        Path target = file("real/K.npy", "old");
        Path link = Files.createSymbolicLink(dir.resolve("K.npy"), Path.of("real/K.npy")); // relative
        Path chain = Files.createSymbolicLink(dir.resolve("L.npy"), link);
        assertThat(refusal(OutputFiles.refusingExisting().output("--out", chain, ".npy")))
                .isEqualTo("--out " + chain + " exists; pass --overwrite to replace it");
        try (Tensor t = Tensor.of(new double[] {1, 2}, 2)) {
            Npy.write(chain, t);
        }
        assertThat(Files.isSymbolicLink(link)).isTrue();
        assertThat(Files.isSymbolicLink(chain)).isTrue();
        try (Tensor read = Npy.readTensor(target)) {
            assertThat(read.toDoubleArray()).containsExactly(1, 2);
        }
        try (Stream<Path> left = Files.list(real)) {
            assertThat(left).containsExactly(target);
        }
        Path dangling = Files.createSymbolicLink(dir.resolve("new.json"), real.resolve("new.json"));
        OutputFiles.refusingExisting().output("--report", dangling, ".json").check(); // nothing there yet
        AtomicFile.write(dangling, ch -> ch.write(ByteBuffer.wrap("{}".getBytes(StandardCharsets.UTF_8))));
        assertThat(Files.isSymbolicLink(dangling)).isTrue();
        assertThat(real.resolve("new.json")).hasContent("{}");
        Path loop = Files.createSymbolicLink(dir.resolve("loop.npy"), dir.resolve("loop.npy"));
        assertThatThrownBy(() -> AtomicFile.destination(loop)).isInstanceOf(java.nio.file.FileSystemException.class)
                .hasMessageContaining("too many levels of symbolic links");
    }
}
