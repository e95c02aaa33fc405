package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;

/**
 * The embedded default data against its source, the Debian package {@code dataset-fashion-mnist}.
 *
 * <p>The checksums of the embedded files run everywhere. The comparisons with the Debian files need the
 * package: without it they are reported as skipped, saying how to install it, except when
 * {@code NTK4J_REQUIRE_FASHION_MNIST=1} (set by {@code .ci/run}, which installs the package): then a missing
 * package fails the build instead.
 */
class FashionMnistTest {
    static final String NOT_INSTALLED = "Fashion-MNIST is not installed in " + DataSource.FASHION_MNIST_DIR
            + ": the tests against the Debian files cannot run (apt-get install dataset-fashion-mnist)";

    /** SHA-256 of the decompressed embedded IDX files (as make_default_data.py writes them). */
    private static final String[][] EMBEDDED_SHA256 = {
        {"train-images-idx3-ubyte.gz", "71a9f8cec24060d6752b3e4940ce6d6fd729334afa47b735dd553481aa83b53e"},
        {"train-labels-idx1-ubyte.gz", "8983259dfbc9f185f92698916f7daf361704b43ba7d19568cc7bcdeefdc1bece"},
        {"t10k-images-idx3-ubyte.gz", "7a6d8e07ea021ec5bc73135ebd0a5770799557ec6f8242d8749c4f32a3cf4643"},
        {"t10k-labels-idx1-ubyte.gz", "b40abac7ec8228f434940f579deb7cf7b6e3103b5274cb91d1545771f5ef1c8b"},
    };

    private static boolean installed() {
        return Files.isRegularFile(DataSource.fashionMnistDir().resolve("train-images-idx3-ubyte.gz"))
                && Files.isRegularFile(DataSource.fashionMnistDir().resolve("t10k-labels-idx1-ubyte.gz"));
    }

    private void requireDebianFiles() {
        if ("1".equals(System.getenv("NTK4J_REQUIRE_FASHION_MNIST"))) {
            assertThat(installed()).as(NOT_INSTALLED + "; NTK4J_REQUIRE_FASHION_MNIST=1 requires it").isTrue();
        }
        assumeTrue(installed(), NOT_INSTALLED);
    }

    @Test
    void embeddedFilesHaveTheRecordedChecksums() throws IOException, NoSuchAlgorithmException {
        for (String[] e : EMBEDDED_SHA256) {
            try (InputStream in = new GZIPInputStream(DataSource.class.getResourceAsStream("/org/ntk4j/io/default/"
                    + e[0]))) {
                byte[] digest = MessageDigest.getInstance("SHA-256").digest(in.readAllBytes());
                assertThat(HexFormat.of().formatHex(digest)).as(e[0]).isEqualTo(e[1]);
            }
        }
    }

    @Test
    void embeddedDefaultIsThePrefixOfTheDebianFiles() throws IOException {
        requireDebianFiles();
        String[][] pairs = {{"default:train", "fashion-mnist:train:2000"}, {"default:test", "fashion-mnist:test:1000"}};
        for (String[] p : pairs) {
            try (Dataset embedded = DataSource.loadDataset(p[0], DType.F32, 0);
                 Dataset debian = DataSource.loadDataset(p[1], DType.F32, 0)) {
                assertThat(embedded.x().shape()).isEqualTo(debian.x().shape());
                assertThat(Arrays.equals(embedded.x().toFloatArray(), debian.x().toFloatArray())).as(p[0]).isTrue();
                assertThat(embedded.labels()).isEqualTo(debian.labels());
            }
        }
    }

    @Test
    void fullSplitsLoadWithTheirSizes() throws IOException {
        requireDebianFiles();
        try (Dataset test = DataSource.loadDataset("fashion-mnist:test", DType.F32, 0)) {
            assertThat(test.x().shape()).containsExactly(10000, 28, 28, 1);
            assertThat(test.numClasses()).isEqualTo(10);
            int[] counts = new int[10];
            for (int l : test.labels()) {
                counts[l]++;
            }
            int[] thousandEach = new int[10];
            Arrays.fill(thousandEach, 1000);
            assertThat(counts).as("Fashion-MNIST's test set is balanced").isEqualTo(thousandEach);
        }
        Idx.Header train = Idx.readHeader(DataSource.fashionMnistDir().resolve("train-images-idx3-ubyte.gz"));
        assertThat(train.shape()).containsExactly(60000, 28, 28);
        assertThat(Idx.readHeader(DataSource.fashionMnistDir().resolve("train-labels-idx1-ubyte.gz")).shape())
                .containsExactly(60000);
        try (Dataset last = DataSource.loadDataset("fashion-mnist:train:60000", DType.F32, 0)) {
            assertThat(last.size()).isEqualTo(60000);
        }
    }

    @Test
    void idxFilesAreAlsoReadByPathWithTheirLabels() throws IOException {
        requireDebianFiles();
        Path images = DataSource.fashionMnistDir().resolve("t10k-images-idx3-ubyte.gz");
        try (Dataset byPath = DataSource.loadDataset(images + ":50", DType.F64, 0);
             Dataset named = DataSource.loadDataset("fashion-mnist:test:50", DType.F64, 0)) {
            assertThat(byPath.labels()).isEqualTo(named.labels());
            assertThat(Arrays.equals(byPath.x().toDoubleArray(), named.x().toDoubleArray())).isTrue();
        }
    }
}
