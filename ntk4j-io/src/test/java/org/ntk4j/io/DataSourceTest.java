package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class DataSourceTest {
    @TempDir
    Path dir;

    // ------------------------------------------------------------------------------ embedded default

    @Test
    void embeddedDefaultHasTheFirstFashionMnistImages() throws IOException {
        try (Dataset train = DataSource.loadDataset("default:train", DType.F32, 0);
             Dataset test = DataSource.loadDataset("default:test", DType.F64, 0)) {
            assertThat(train.x().shape()).containsExactly(2000, 28, 28, 1);
            assertThat(test.x().shape()).containsExactly(1000, 28, 28, 1);
            assertThat(train.numClasses()).isEqualTo(10);
            assertThat(test.numClasses()).isEqualTo(10);
            // The first labels of Fashion-MNIST's train and t10k files (9 = ankle boot, 0 = T-shirt/top, ...).
            assertThat(java.util.Arrays.copyOf(train.labels(), 10)).containsExactly(9, 0, 0, 3, 0, 2, 7, 2, 5, 5);
            assertThat(java.util.Arrays.copyOf(test.labels(), 10)).containsExactly(9, 2, 1, 1, 6, 1, 4, 6, 5, 7);
            int[] counts = new int[10];
            for (int l : train.labels()) {
                counts[l]++;
            }
            for (int c : counts) {
                assertThat(c).as("every class appears in the 2,000 (about 200 each)").isBetween(150, 250);
            }
            double min = Double.MAX_VALUE;
            double max = -Double.MAX_VALUE;
            int notBytes = 0;
            for (double v : test.x().toDoubleArray()) {
                min = Math.min(min, v);
                max = Math.max(max, v);
                notBytes += Math.abs(v * 255 - Math.rint(v * 255)) < 1e-9 ? 0 : 1;
            }
            assertThat(notBytes).as("pixels are bytes / 255").isZero();
            assertThat(min).isEqualTo(0.0);
            assertThat(max).isEqualTo(1.0);
        }
    }

    @Test
    void embeddedDefaultTakesACount() throws IOException {
        try (Dataset d = DataSource.loadDataset("default:train:300", DType.F32, 0);
             Dataset all = DataSource.loadDataset("default:train", DType.F32, 0);
             Dataset head = all.head(300)) {
            assertThat(d.size()).isEqualTo(300);
            assertThat(d.labels()).isEqualTo(head.labels());
            ArrayAsserts.assertSameElements("first 300", d.x().toFloatArray(), head.x().toFloatArray());
        }
        assertThatThrownBy(() -> DataSource.loadDataset("default:train:2001", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source 'default:train:2001': N=2001 is outside [1, 2000]");
        assertThatThrownBy(() -> DataSource.loadDataset("default:validation", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("data source 'default:validation': expected default:train[:N] or "
                        + "default:test[:N]");
        assertThatThrownBy(() -> DataSource.loadDataset("default:test:abc", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source 'default:test:abc': expected a number of examples after the last ':', "
                        + "got 'abc'");
    }

    @Test
    void unlabelledLoadKeepsTheOldBehaviour() throws IOException {
        try (Tensor x = DataSource.load("default:test:5", DType.F64, 0)) {
            assertThat(x.shape()).containsExactly(5, 28, 28, 1);
            assertThat(x.isClosed()).isFalse();
        }
        try (Tensor a = DataSource.load("synthetic:4,3,2", DType.F32, 7);
             Tensor b = DataSource.load("synthetic:4,3,2", DType.F32, 7);
             Dataset d = DataSource.loadDataset("synthetic:4,3,2", DType.F32, 7)) {
            assertThat(a.shape()).containsExactly(4, 3, 2);
            ArrayAsserts.assertSameElements("load", a.toFloatArray(), b.toFloatArray());
            assertThat(d.hasLabels()).isFalse();
            assertThat(d.numClasses()).isZero();
        }
    }

    @Test
    void fashionMnistAbsentSaysHowToInstallIt() {
        assertThatThrownBy(() -> DataSource.fashionMnist("fashion-mnist:train", "train", DType.F32, dir))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source 'fashion-mnist:train': " + dir.resolve("train-images-idx3-ubyte.gz")
                        + " not found; install Fashion-MNIST with: apt-get install dataset-fashion-mnist (or use "
                        + "default:train / default:test, the embedded subset)");
        assertThatThrownBy(() -> DataSource.loadDataset("fashion-mnist:valid", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source 'fashion-mnist:valid': expected fashion-mnist:train[:N] or "
                        + "fashion-mnist:test[:N]");
    }

    // ------------------------------------------------------------------------------------------ npy / npz

    @Test
    void npyWithLabelsAndCount() throws IOException {
        Path x = dir.resolve("x.npy");
        Path y = dir.resolve("y.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 3, 2)) {
            Npy.write(x, t);
        }
        Npy.write(y, NpyArray.ofLongs(NpyDType.INT64, new long[] {2, 0, 5}, 3));
        try (Dataset d = DataSource.loadDataset(x + ":labels=" + y, DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(1, 2, 3, 4, 5, 6);
            assertThat(d.labels()).containsExactly(2, 0, 5);
            assertThat(d.numClasses()).isEqualTo(6);
        }
        try (Dataset d = DataSource.loadDataset("npy:" + x + ":labels=" + y + ":2", DType.F32, 0)) {
            assertThat(d.x().shape()).containsExactly(2, 2);
            assertThat(d.labels()).containsExactly(2, 0);
        }
        try (Dataset d = DataSource.loadDataset(x.toString(), DType.F32, 0)) {
            assertThat(d.hasLabels()).isFalse();
        }
    }

    /**
     * {@code x=KEY1,KEY2}: the arrays packed per example in the order given (int64 ids [N, 2], float64 [N, 1, 2]),
     * labels beside them, {@code :N}; arrays of another N are refused naming both.
     */
    @Test
    void npzPacksSeveralArraysPerExampleInTheOrderGiven() throws IOException {
        Path z = dir.resolve("inputs.npz");
        Map<String, NpyArray> arrays = new LinkedHashMap<>();
        arrays.put("b", NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {0.5, -1, 2.5, 3, -4, 0.25}, 3, 1, 2));
        arrays.put("ids", NpyArray.ofLongs(NpyDType.INT64, new long[] {7, 1, 0, 9, 3, 3}, 3, 2));
        arrays.put("y", NpyArray.ofLongs(NpyDType.INT64, new long[] {1, 0, 2}, 3));
        Npz.writeArrays(z, arrays);
        try (Dataset d = DataSource.loadDataset(z + ":x=ids,b", DType.F64, 0)) {
            assertThat(d.x().shape()).containsExactly(3, 4);
            assertThat(d.x().toDoubleArray()).containsExactly(7, 1, 0.5, -1, 0, 9, 2.5, 3, 3, 3, -4, 0.25);
            assertThat(d.labels()).containsExactly(1, 0, 2);
        }
        try (Dataset d = DataSource.loadDataset("npz:" + z + ":x=b,ids:y=none:2", DType.F32, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(0.5, -1, 7, 1, 2.5, 3, 0, 9);
            assertThat(d.hasLabels()).isFalse();
        }
        Path uneven = dir.resolve("uneven.npz");
        Npz.writeArrays(uneven, Map.of("a", NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {1, 2, 3}, 3, 1),
                "c", NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {1, 2}, 2, 1)));
        assertThatThrownBy(() -> DataSource.load(uneven + ":x=a,c", DType.F64, 0)).hasMessage("data source '"
                + uneven + ":x=a,c': array 'c' has shape [2, 1], array 'a' has 3 examples; every array of x needs one "
                + "row per example");
        assertThatThrownBy(() -> DataSource.load(uneven + ":x=a,q", DType.F64, 0))
                .hasMessageStartingWith("data source '" + uneven + ":x=a,q': no array 'q' in " + uneven);
    }

    /**
     * {@code x=KEY1,KEY2} with labels and {@code :N}: the labels, checked against the arrays' N, are kept for the
     * examples read (before 2026-12-07 all N were kept, and the N examples were refused as "N examples but M
     * labels").
     */
    @Test
    void npzPackedArraysKeepTheirLabelsForTheFirstExamples() throws IOException {
        Path z = dir.resolve("packed.npz");
        Map<String, NpyArray> arrays = new LinkedHashMap<>();
        arrays.put("a", NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {1, 2, 3, 4, 5, 6}, 3, 2));
        arrays.put("m", NpyArray.ofLongs(NpyDType.UINT8, new long[] {255, 0, 51}, 3, 1));
        arrays.put("y", NpyArray.ofLongs(NpyDType.INT64, new long[] {2, 0, 1}, 3));
        Npz.writeArrays(z, arrays);
        try (Dataset d = DataSource.loadDataset(z + ":x=a,m:2", DType.F64, 0)) {
            assertThat(d.x().shape()).containsExactly(2, 3);
            assertThat(d.x().toDoubleArray()).containsExactly(1, 2, 1, 3, 4, 0);
            assertThat(d.labels()).containsExactly(2, 0);
            assertThat(d.numClasses()).isEqualTo(3);
        }
        arrays.put("y", NpyArray.ofLongs(NpyDType.INT64, new long[] {2, 0}, 2));
        Npz.writeArrays(z, arrays);
        assertThatThrownBy(() -> DataSource.loadDataset(z + ":x=a,m:2", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + z + ":x=a,m:2': 3 examples but 2 labels");
    }

    @Test
    void unsignedBytesAreScaledToUnitInterval() throws IOException {
        Path x = dir.resolve("img.npy");
        Npy.write(x, NpyArray.ofLongs(NpyDType.UINT8, new long[] {0, 51, 255, 102}, 1, 2, 2));
        try (Dataset d = DataSource.loadDataset(x.toString(), DType.F64, 0)) {
            assertThat(d.x().shape()).containsExactly(1, 2, 2);
            assertThat(d.x().toDoubleArray()).containsExactly(0, 0.2, 1, 0.4);
        }
        Path ints = dir.resolve("int16.npy");
        Npy.write(ints, NpyArray.ofLongs(NpyDType.INT16, new long[] {0, 51, 255, 1000}, 2, 2));
        try (Dataset d = DataSource.loadDataset(ints.toString(), DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).as("other integer types are read as stored")
                    .containsExactly(0, 51, 255, 1000);
        }
    }

    @Test
    void badLabels() throws IOException {
        Path x = dir.resolve("x.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2, 3}, 3, 1)) {
            Npy.write(x, t);
        }
        Path neg = dir.resolve("neg.npy");
        Npy.write(neg, NpyArray.ofLongs(NpyDType.INT32, new long[] {0, -1, 2}, 3));
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":labels=" + neg, DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + x + ":labels=" + neg + "': label -1 of example 1 in " + neg
                        + " is negative; labels are class indices 0, 1, ...");
        Path frac = dir.resolve("frac.npy");
        Npy.write(frac, NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {0, 1.5, 2}, 3));
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":labels=" + frac, DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith("label 1.5 of example 1 in " + frac
                        + " is not a whole number (labels are class indices)");
        Path whole = dir.resolve("whole.npy");
        Npy.write(whole, NpyArray.ofDoubles(NpyDType.FLOAT32, new double[] {0, 1, 2}, 3));
        try (Dataset d = DataSource.loadDataset(x + ":labels=" + whole, DType.F64, 0)) {
            assertThat(d.labels()).containsExactly(0, 1, 2);
        }
        Path two = dir.resolve("two.npy");
        Npy.write(two, NpyArray.ofLongs(NpyDType.UINT8, new long[] {0, 1}, 2));
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":labels=" + two, DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith(": 3 examples but 2 labels");
        Path rank2 = dir.resolve("rank2.npy");
        Npy.write(rank2, NpyArray.ofLongs(NpyDType.UINT8, new long[] {0, 1, 2}, 3, 1));
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":labels=" + rank2, DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith("must be rank 1 (one class index per example), got shape [3, 1] (a column of "
                        + "labels: save y.reshape(-1))");
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":labels=" + dir.resolve("none.npy"), DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith(": labels file not found: " + dir.resolve("none.npy"));
        // a CSV of labels is neither a .npy nor IDX: the refusal says what labels= takes
        Path csv = dir.resolve("labels.csv");
        Files.writeString(csv, "label\n0\n1\n2\n");
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":labels=" + csv, DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(csv + ": not an IDX file: the magic number starts with 6c 61, expected 00 00; labels= "
                        + "takes class indices in a rank-1 .npy file or an IDX file");
    }

    @Test
    void float64DataBeyondFloat32IsRefusedNamingTheFileNotReadAsInfinity() throws IOException {
        Path npz = dir.resolve("big.npz");
        Npz.writeArrays(npz, Map.of("x", NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {1, 2, 3e39, 4}, 2, 2)));
        assertThatThrownBy(() -> DataSource.load(npz.toString(), DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(npz + ", entry 'x.npy': element 2 is 3.0E39, beyond float32's range")
                .hasMessageEndingWith("read the file as float64 (--dtype f64, DType.F64)");
        Path npy = dir.resolve("big.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2, 3e39, 4}, 2, 2)) {
            Npy.write(npy, t);
        }
        assertThatThrownBy(() -> DataSource.load(npy.toString(), DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("element 2 is 3.0E39");
        try (Tensor x = DataSource.load(npz.toString(), DType.F64, 0)) {
            assertThat(x.toDoubleArray()).containsExactly(1, 2, 3e39, 4);
        }
    }

    @Test
    void npzWithDefaultAndNamedKeys() throws IOException {
        Path f = dir.resolve("d.npz");
        Map<String, NpyArray> arrays = new LinkedHashMap<>();
        arrays.put("x", NpyArray.ofDoubles(NpyDType.FLOAT32, new double[] {1, 2, 3, 4}, 2, 2));
        arrays.put("y", NpyArray.ofLongs(NpyDType.INT64, new long[] {1, 0}, 2));
        arrays.put("images", NpyArray.ofLongs(NpyDType.UINT8, new long[] {255, 0}, 2, 1));
        arrays.put("classes", NpyArray.ofLongs(NpyDType.INT64, new long[] {3, 3}, 2));
        Npz.writeArrays(f, arrays);
        try (Dataset d = DataSource.loadDataset(f.toString(), DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(1, 2, 3, 4);
            assertThat(d.labels()).containsExactly(1, 0);
        }
        try (Dataset d = DataSource.loadDataset(f + ":x=images:y=classes", DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(1, 0);
            assertThat(d.labels()).containsExactly(3, 3);
            assertThat(d.numClasses()).isEqualTo(4);
        }
        assertThatThrownBy(() -> DataSource.loadDataset(f + ":x=inputs", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + f + ":x=inputs': no array 'inputs' in " + f
                        + " (it holds x, y, images, classes); name the inputs with :x=KEY");
        assertThatThrownBy(() -> DataSource.loadDataset(f + ":labels=y", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + f + ":labels=y': unknown option 'labels'; this format takes x=, "
                        + "y= and :N");
    }

    // --------------------------------------------------------------------------------------------- CSV

    @Test
    void csvWithLabelColumn() throws IOException {
        Path f = dir.resolve("d.csv");
        Files.writeString(f, "a,label,b\n1.5,2,-3\n\n 4 , 0 ,5e-1\n\"7\",1,8\n", StandardCharsets.UTF_8);
        try (Dataset d = DataSource.loadDataset(f.toString(), DType.F64, 0)) {
            assertThat(d.x().shape()).containsExactly(3, 2);
            assertThat(d.x().toDoubleArray()).containsExactly(1.5, -3, 4, 0.5, 7, 8);
            assertThat(d.labels()).containsExactly(2, 0, 1);
            assertThat(d.numClasses()).isEqualTo(3);
        }
        try (Dataset d = DataSource.loadDataset(f + ":label=none:2", DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(1.5, 2, -3, 4, 0, 0.5);
            assertThat(d.hasLabels()).isFalse();
        }
        try (Dataset d = DataSource.loadDataset("csv:" + f + ":label=a", DType.F64, 0)) {
            assertThat(d.labels()).isNull(); // 1.5 is not a class index
        } catch (DataFormatException e) {
            assertThat(e).hasMessage(f + ": line 2, column 1 (a), the label column: '1.5' is not a whole number; "
                    + "labels are class indices 0, 1, ...");
        }
    }

    @Test
    void csvLabelColumnIsFoundInAnyCase() throws IOException {
        // 'Label' (pandas users' spelling) was read as a feature before 2026-12-07: the targets among the inputs
        Path f = dir.resolve("cased.csv");
        Files.writeString(f, "a,Label,b\n1.5,2,-3\n4,0,0.5\n", StandardCharsets.UTF_8);
        try (Dataset d = DataSource.loadDataset(f.toString(), DType.F64, 0)) {
            assertThat(d.x().shape()).containsExactly(2, 2);
            assertThat(d.x().toDoubleArray()).containsExactly(1.5, -3, 4, 0.5);
            assertThat(d.labels()).containsExactly(2, 0);
        }
        try (Dataset d = DataSource.loadDataset(f + ":label=none", DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(1.5, 2, -3, 4, 0, 0.5);
        }
        // 'label' itself wins over another case; two other cases are refused
        Path both = dir.resolve("both.csv");
        Files.writeString(both, "LABEL,label,b\n1,2,3\n", StandardCharsets.UTF_8);
        try (Dataset d = DataSource.loadDataset(both.toString(), DType.F64, 0)) {
            assertThat(d.labels()).containsExactly(2);
            assertThat(d.x().toDoubleArray()).containsExactly(1, 3);
        }
        Path two = dir.resolve("two.csv");
        Files.writeString(two, "LABEL,Label,b\n1,2,3\n", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> DataSource.loadDataset(two.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(two + ": columns 1 (LABEL) and 2 (Label) could each be the label column; name it with "
                        + ":label=COLUMN, or read every column as a feature with :label=none");
    }

    @Test
    void csvEmptyCellIsNamedAMissingValue() throws IOException {
        // pandas writes NaN as an empty cell; before 2026-12-07: "'' is not a number"
        Path f = dir.resolve("gaps.csv");
        Files.writeString(f, "a,b,label\n1,2,0\n3,,1\n", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> DataSource.loadDataset(f.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(f + ": line 3, column 2 (b): the cell is empty, a missing value (pandas writes NaN as an "
                        + "empty cell); every cell must be a number (drop or impute the missing values)");
        Files.writeString(f, "a,b,label\n1,2, \n", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> DataSource.loadDataset(f.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessageStartingWith(f + ": line 2, column 3 (label): the cell is empty, a missing value");
    }

    @Test
    void optionsGivenTwiceAndCountsBeyondIntAreRefusedAsSuch() throws IOException {
        Path x = dir.resolve("x.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2)) {
            Npy.write(x, t);
        }
        Path y = dir.resolve("y.npy");
        Npy.write(y, NpyArray.ofLongs(NpyDType.INT64, new long[] {0, 1}, 2));
        // before 2026-12-07 the last labels= won without a word, and a second count was "neither KEY=VALUE nor a
        // number of examples"
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":labels=" + y + ":labels=" + x, DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + x + ":labels=" + y + ":labels=" + x + "': option 'labels=' is given "
                        + "twice");
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":1:2", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + x + ":1:2': the number of examples is given twice (1 and 2)");
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":99999999999", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + x + ":99999999999': N=99999999999 is outside [1, 2147483647]");
        assertThatThrownBy(() -> DataSource.loadDataset("default:test:99999999999", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source 'default:test:99999999999': N=99999999999 is outside [1, 1000]");
        Path z = dir.resolve("d.npz");
        Npz.writeArrays(z, Map.of("x", NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {1, 2}, 2, 1)));
        assertThatThrownBy(() -> DataSource.loadDataset(z + ":x=x:X=y", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageEndingWith("option 'x=' is given twice");
    }

    @Test
    void aScalarIsNotExamples() throws IOException {
        Path s = dir.resolve("s.npy");
        Npy.write(s, NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {3}));
        assertThatThrownBy(() -> DataSource.loadDataset(s.toString(), DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + s + "': a single number (a 0-d array, shape ()), not examples [N, ...]; "
                        + "save x.reshape(1, 1) for one example of one feature");
    }

    @Test
    void csvByteOrderMarkIsSkipped() throws IOException {
        // Excel's "CSV UTF-8" starts the file with a UTF-8 byte-order mark; without skipping it, the first header
        // would be U+FEFF followed by "label", and the label column would become a feature.
        String text = "label,a,b\n0,1,2\n1,3,4\n2,5,6\n";
        Path plain = dir.resolve("plain.csv");
        Files.writeString(plain, text, StandardCharsets.UTF_8);
        Path bom = dir.resolve("bom.csv");
        Files.writeString(bom, "\uFEFF" + text, StandardCharsets.UTF_8);
        assertThat(Files.readAllBytes(bom)).startsWith((byte) 0xEF, (byte) 0xBB, (byte) 0xBF);
        for (String options : new String[] {"", ":label=label", ":label=none"}) {
            try (Dataset withBom = DataSource.loadDataset(bom + options, DType.F64, 0);
                 Dataset without = DataSource.loadDataset(plain + options, DType.F64, 0)) {
                assertThat(withBom.x().shape()).as(options).containsExactly(without.x().shape());
                assertThat(withBom.x().toDoubleArray()).as(options).containsExactly(without.x().toDoubleArray());
                assertThat(withBom.labels()).as(options).isEqualTo(without.labels());
                assertThat(withBom.numClasses()).as(options).isEqualTo(without.numClasses());
            }
        }
        try (Dataset d = DataSource.loadDataset(bom.toString(), DType.F64, 0)) {
            assertThat(d.x().shape()).containsExactly(3, 2);
            assertThat(d.labels()).containsExactly(0, 1, 2);
        }
        // The first column keeps its plain name for :label= too.
        Path first = dir.resolve("first.csv");
        Files.writeString(first, "\uFEFFy,x\n1,8\n0,9\n", StandardCharsets.UTF_8);
        try (Dataset d = DataSource.loadDataset(first + ":label=y", DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(8, 9);
            assertThat(d.labels()).containsExactly(1, 0);
        }
    }

    /**
     * A cell written as a whole number converts exactly or is refused, as a {@code .npy} file's integers (16777217
     * was read as 16777216 in float32, another token id); a decimal cell is rounded as NumPy rounds it.
     */
    @Test
    void csvIntegersConvertExactlyOrAreRefused() throws IOException {
        Path ok = dir.resolve("exact.csv");
        Files.writeString(ok, "id,x\n16777216,0.1\n-16777216,1e30\n+1073741824,2\n"
                + "1267650600228229401496703205376,3\n");
        try (Tensor f = DataSource.load(ok.toString(), DType.F32, 0)) {
            assertThat(f.getFlat(0)).isEqualTo(16_777_216.0);
            assertThat(f.getFlat(1)).isEqualTo((double) 0.1f);
            assertThat(f.getFlat(2)).isEqualTo(-16_777_216.0);
            assertThat(f.getFlat(3)).isEqualTo((double) 1e30f);
            assertThat(f.getFlat(4)).isEqualTo(1_073_741_824.0);
            assertThat(f.getFlat(6)).isEqualTo(Math.pow(2, 100)); // 2^100: one significant bit
        }
        Path ids = dir.resolve("ids.csv");
        Files.writeString(ids, "id,label\n3,0\n 16777217 ,1\n");
        assertThatThrownBy(() -> DataSource.loadDataset(ids.toString(), DType.F32, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(ids + ": line 3, column 1 (id) is the integer 16777217, which float32 cannot hold "
                        + "exactly (it holds every integer up to 2^24); converting would round it; read the file as "
                        + "float64 (--dtype f64, DType.F64)");
        try (Dataset d = DataSource.loadDataset(ids.toString(), DType.F64, 0)) {
            assertThat(d.x().getFlat(1)).isEqualTo(16_777_217.0);
        }
        Path wide = dir.resolve("wide.csv");
        Files.writeString(wide, "a,b\n1,-9007199254740993\n");
        assertThatThrownBy(() -> DataSource.load(wide.toString(), DType.F64, 0))
                .hasMessage(wide + ": line 2, column 2 (b) is the integer -9007199254740993, which float64 cannot "
                        + "hold exactly (it holds every integer up to 2^53); converting would round it");
        // a decimal cell is a number like any other, rounded to the dtype
        Path decimal = dir.resolve("decimal.csv");
        Files.writeString(decimal, "a\n16777217.0\n");
        try (Tensor f = DataSource.load(decimal.toString(), DType.F32, 0)) {
            assertThat(f.getFlat(0)).isEqualTo(16_777_216.0);
        }
    }

    @Test
    void csvErrorsNameRowAndColumn() throws IOException {
        Path f = dir.resolve("bad.csv");
        Files.writeString(f, "x1,x2,label\n1,2,0\n3,oops,1\n");
        assertThatThrownBy(() -> DataSource.loadDataset(f.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(f + ": line 3, column 2 (x2): 'oops' is not a number");
        Path ragged = dir.resolve("ragged.csv");
        Files.writeString(ragged, "x1,x2\n1,2\n3\n");
        assertThatThrownBy(() -> DataSource.loadDataset(ragged.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(ragged + ": line 3 has 1 cells, the header 2");
        Path empty = dir.resolve("empty.csv");
        Files.writeString(empty, "x1,x2\n");
        assertThatThrownBy(() -> DataSource.loadDataset(empty.toString(), DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + empty + "': " + empty + " has a header but no rows");
        Path dup = dir.resolve("dup.csv");
        Files.writeString(dup, "x,y,x\n1,2,3\n");
        assertThatThrownBy(() -> DataSource.loadDataset(dup.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(dup + ": the header row names two columns 'x' (columns 1 and 3); give each column its own "
                        + "name");
        Path onlyLabel = dir.resolve("only.csv");
        Files.writeString(onlyLabel, "label\n1\n");
        assertThatThrownBy(() -> DataSource.loadDataset(onlyLabel.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(onlyLabel + ": has no feature columns besides the label column 'label'");
        Path labelCol = dir.resolve("l.csv");
        Files.writeString(labelCol, "x,label\n1,-2\n");
        assertThatThrownBy(() -> DataSource.loadDataset(labelCol.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(labelCol + ": line 2, column 2 (label), the label column: '-2' is negative; labels are "
                        + "class indices 0, 1, ...");
        assertThatThrownBy(() -> DataSource.loadDataset(f + ":label=target", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + f + ":label=target': no column 'target' in " + f
                        + " (columns: x1, x2, label)");
        // a spreadsheet's "CSV" in a locale with decimal commas: ';' between cells, ',' in numbers
        Path semicolons = dir.resolve("semicolons.csv");
        Files.writeString(semicolons, "a;b\n0,5;-1,25\n");
        assertThatThrownBy(() -> DataSource.loadDataset(semicolons.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(semicolons + ": line 2 has 3 cells, the header 1 (cells separated by ';' or tabs? CSV "
                        + "sources are comma-separated, with '.' as the decimal point: pandas' df.to_csv(f, "
                        + "index=False) writes one)");
        Path tabs = dir.resolve("tabs.csv");
        Files.writeString(tabs, "a\tb\n0.5\t1\n");
        assertThatThrownBy(() -> DataSource.loadDataset(tabs.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(tabs + ": line 2, column 1 (a\tb): '0.5\t1' is not a number (cells separated by ';' "
                        + "or tabs? CSV sources are comma-separated, with '.' as the decimal point: pandas' "
                        + "df.to_csv(f, index=False) writes one)");
        Path commas = dir.resolve("commas.csv");
        Files.writeString(commas, "a,b\n\"0,5\",1\n");
        assertThatThrownBy(() -> DataSource.loadDataset(commas.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(commas + ": line 2, column 1 (a): '0,5' is not a number (a decimal comma? CSV numbers "
                        + "take '.', as NumPy and pandas read them)");
        Path nan = dir.resolve("nan.csv");
        Files.writeString(nan, "x,y\n1,2\n3,NaN\n");
        assertThatThrownBy(() -> DataSource.loadDataset(nan.toString(), DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(nan + ": line 3, column 2 (y): 'NaN' is NaN; the inputs must be finite numbers (drop or "
                        + "impute the missing values)");
    }

    /**
     * A NaN or Inf cell is named as a text editor shows it: its line (the header line and blank lines counted, CRLF
     * or LF, a header name with a quoted line break taking two) and its column with its name; before, it was "contains
     * NaN at flat index 5 (example 1)", an index into x that counts neither the header nor the label column.
     */
    @Test
    void csvNonFiniteCellsAreNamedByLineAndColumn() throws IOException {
        Path f = dir.resolve("data.csv");
        Files.writeString(f, "id,pixel1,pixel2,label\n\n0,0.5,1,3\n1,0.25,nan,2\n");
        assertThatThrownBy(() -> DataSource.loadDataset(f.toString(), DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(f + ": line 4, column 3 (pixel2): 'nan' is NaN; the inputs must be finite numbers (drop or "
                        + "impute the missing values)");
        Path crlf = dir.resolve("crlf.csv");
        Files.writeString(crlf, "\"pixel\r\n(raw)\",b\r\n1,2\r\n\r\n3, -Infinity \r\n");
        assertThatThrownBy(() -> DataSource.loadDataset(crlf.toString(), DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(crlf + ": line 5, column 2 (b): '-Infinity' is -Infinity; the inputs must be finite "
                        + "numbers (drop or impute the missing values)");
        // the other refusals of a cell name it the same way (a header name with a line break, and no final newline)
        Path word = dir.resolve("word.csv");
        Files.writeString(word, "\"pixel\n(raw)\",b\n1,2\n3,n/a");
        assertThatThrownBy(() -> DataSource.loadDataset(word.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(word + ": line 4, column 2 (b): 'n/a' is not a number");
        assertThatThrownBy(() -> DataSource.loadDataset(word + ":label=b", DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(word + ": line 4, column 2 (b): 'n/a' is not a number");
        // with :N the rows after the first N are not read, as a .npy's are not
        try (Dataset d = DataSource.loadDataset(f + ":1", DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(0, 0.5, 1);
            assertThat(d.labels()).containsExactly(3);
        }
        try (Dataset d = DataSource.loadDataset(word + ":1", DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(1, 2);
        }
        assertThatThrownBy(() -> DataSource.loadDataset(f + ":3", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("line 4, column 3 (pixel2)");
    }

    /** A label beyond 2^24 (an id, a count: not a class index) is refused by every format, naming it. */
    @Test
    void labelsBeyondAnyClassCountAreRefused() throws IOException {
        Path x = dir.resolve("x.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2, 3}, 3, 1)) {
            Npy.write(x, t);
        }
        Path y = dir.resolve("y.npy");
        Npy.write(y, NpyArray.ofDoubles(NpyDType.FLOAT32, new double[] {0, 2e9, 1}, 3));
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":labels=" + y, DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + x + ":labels=" + y + "': label 2000000000 of example 1 in " + y + " is "
                        + "2^24 = 16777216 or more, beyond any class count ntk4j takes (not class indices?); labels "
                        + "are class indices 0, 1, ...");
        // 2^31-1, whose max(label) + 1 overflowed an int, in an IDX file of int32 labels
        Path idx = dir.resolve("l-idx1");
        Files.write(idx, IdxFiles.i32(new int[] {1, 0, Integer.MAX_VALUE}, 3));
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":labels=" + idx, DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + x + ":labels=" + idx + "': label 2147483647 of example 2 is 2^24 = "
                        + "16777216 or more, beyond any class count ntk4j takes (not class indices?); labels are class "
                        + "indices 0, 1, ...");
        Path csv = dir.resolve("l.csv");
        Files.writeString(csv, "a,label\n1,16777215\n2,2e9\n");
        assertThatThrownBy(() -> DataSource.loadDataset(csv.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(csv + ": line 3, column 2 (label), the label column: '2e9' is 2^24 = 16777216 or more, "
                        + "beyond any class count ntk4j takes (not class indices?); labels are class indices 0, 1, "
                        + "...");
        // the largest class index is read
        try (Dataset d = DataSource.loadDataset(csv + ":1", DType.F64, 0)) {
            assertThat(d.labels()).containsExactly(16_777_215);
            assertThat(d.numClasses()).isEqualTo(16_777_216);
        }
    }

    /**
     * A cell written as a finite number beyond the dtype's range ({@code 1e400}; {@code 1e39} in float32) is refused
     * at its row and column, as a {@code .npy} value beyond float32's is; before 2026-12-07 it became ±∞ and was
     * reported as an Infinity the file does not hold ("contains Infinity at flat index 2").
     */
    @Test
    void csvCellsBeyondTheTypesRangeAreRefusedAtTheirCell() throws IOException {
        Path f = dir.resolve("large.csv");
        Files.writeString(f, "a,b\n1,2\n-3.5e38,1e39\n");
        assertThatThrownBy(() -> DataSource.loadDataset(f.toString(), DType.F32, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(f + ": line 3, column 1 (a): '-3.5e38' is beyond float32's range (±3.4028235E38); read "
                        + "the file as float64 (--dtype f64, DType.F64)");
        try (Dataset d = DataSource.loadDataset(f.toString(), DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(1, 2, -3.5e38, 1e39);
        }
        // 2^128 written out (an integer float32 would hold exactly, but for its range) is refused too; float32's
        // largest value and the largest double that rounds to it are read
        Path edge = dir.resolve("edge.csv");
        Files.writeString(edge, "a\n340282366920938463463374607431768211456\n");
        assertThatThrownBy(() -> DataSource.loadDataset(edge.toString(), DType.F32, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessageStartingWith(edge + ": line 2, column 1 (a): '340282366920938463463374607431768211456' is "
                        + "beyond float32's range");
        Path largest = dir.resolve("largest.csv");
        Files.writeString(largest, "a\n3.4028235e38\n3.4028235677973362e38\n");
        try (Dataset d = DataSource.loadDataset(largest.toString(), DType.F32, 0)) {
            assertThat(d.x().toFloatArray()).containsExactly(Float.MAX_VALUE, Float.MAX_VALUE);
        }
        Path huge = dir.resolve("huge.csv");
        Files.writeString(huge, "a,b\n1, 1E400 \n");
        assertThatThrownBy(() -> DataSource.loadDataset(huge.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(huge + ": line 2, column 2 (b): '1E400' is beyond float64's range "
                        + "(±1.7976931348623157E308)");
        // 1e-400 is below the smallest subnormal: 0, as NumPy reads it; an Inf written as such is refused as such
        // (with :1, its line is not read)
        Path tiny = dir.resolve("tiny.csv");
        Files.writeString(tiny, "a\n1e-400\n-inf\n");
        assertThatThrownBy(() -> DataSource.loadDataset(tiny.toString(), DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(tiny + ": line 3, column 1 (a): '-inf' is -Infinity; the inputs must be finite numbers "
                        + "(drop or impute the missing values)");
        try (Dataset d = DataSource.loadDataset(tiny + ":1", DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(0);
        }
    }

    @Test
    void csvCellsAreDecimalNumbersAsNumPyReadsThem() throws IOException {
        Path f = dir.resolve("decimal.csv");
        Files.writeString(f, "a,b,c,d\n1,-2.5,+3e2,.5\n1.,-0.25E-1,7E+0, 8 \n");
        try (Dataset d = DataSource.loadDataset(f + ":label=none", DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(1, -2.5, 300, 0.5, 1, -0.025, 7, 8);
        }
        // What Double.parseDouble takes beyond decimals, Java's type suffixes and hexadecimal floats, and what
        // NumPy and pandas refuse besides: not numbers, with the message of any other bad cell.
        for (String cell : new String[] {"2f", "1d", "1D", "3F", "0x1p3", "0X10P0", "1e", "e5", ".", "-", "1e+",
                "1.5.2", "1_000", "--1", "Infinityy", "NaNd", "in", "0x10", "١"}) {
            Path bad = dir.resolve("suffix.csv");
            Files.writeString(bad, "a,b\n1,2\n3,\"" + cell + "\"\n", StandardCharsets.UTF_8);
            assertThatThrownBy(() -> DataSource.loadDataset(bad + ":label=none", DType.F64, 0))
                    .as(cell)
                    .isInstanceOf(DataFormatException.class)
                    .hasMessage(bad + ": line 3, column 2 (b): '" + cell + "' is not a number");
        }
        Path label = dir.resolve("label-suffix.csv");
        Files.writeString(label, "x,label\n1,2f\n");
        assertThatThrownBy(() -> DataSource.loadDataset(label.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(label + ": line 2, column 2 (label): '2f' is not a number");
        // NaN and Inf in their usual spellings (Java's, NumPy's, pandas') are numbers, refused as not finite at their
        // line and column
        for (String cell : new String[] {"NaN", "-NaN", "nan", "NAN"}) {
            Path nan = dir.resolve("nan-spelling.csv");
            Files.writeString(nan, "x,y\n1,2\n3," + cell + "\n");
            assertThatThrownBy(() -> DataSource.loadDataset(nan.toString(), DType.F64, 0))
                    .as(cell)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(nan + ": line 3, column 2 (y): '" + cell + "' is NaN; the inputs must be finite "
                            + "numbers (drop or impute the missing values)");
        }
        for (String cell : new String[] {"Infinity", "+Infinity", "inf", "INF", "+inf", "infinity", "-Infinity",
                "-inf"}) {
            Path inf = dir.resolve("inf-spelling.csv");
            Files.writeString(inf, "x,y\n1,2\n3," + cell + "\n");
            String value = cell.startsWith("-") ? "-Infinity" : "Infinity";
            assertThatThrownBy(() -> DataSource.loadDataset(inf.toString(), DType.F64, 0))
                    .as(cell)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(inf + ": line 3, column 2 (y): '" + cell + "' is " + value + "; the inputs must be "
                            + "finite numbers (drop or impute the missing values)");
        }
    }

    // --------------------------------------------------------------------------------------------- IDX

    @Test
    void idxImagesPairWithTheirLabelsFile() throws IOException {
        Path images = dir.resolve("my-images-idx3-ubyte.gz");
        Files.write(images, IdxFiles.gzip(IdxFiles.u8(new int[] {0, 255, 51, 102, 1, 2, 3, 4}, 2, 2, 2)));
        Files.write(dir.resolve("my-labels-idx1-ubyte.gz"), IdxFiles.gzip(IdxFiles.u8(new int[] {4, 1}, 2)));
        try (Dataset d = DataSource.loadDataset(images.toString(), DType.F64, 0)) {
            assertThat(d.x().shape()).containsExactly(2, 2, 2, 1);
            assertThat(d.x().getFlat(1)).isEqualTo(1.0);
            assertThat(d.x().getFlat(2)).isEqualTo(0.2);
            assertThat(d.labels()).containsExactly(4, 1);
            assertThat(d.numClasses()).isEqualTo(5);
        }
        try (Dataset d = DataSource.loadDataset(images + ":1", DType.F64, 0)) {
            assertThat(d.x().shape()).containsExactly(1, 2, 2, 1);
            assertThat(d.labels()).containsExactly(4);
        }
        Path other = dir.resolve("other.idx");
        Files.write(other, IdxFiles.u8(new int[] {0, 1}, 2));
        try (Dataset d = DataSource.loadDataset("idx:" + images + ":labels=" + other, DType.F64, 0)) {
            assertThat(d.labels()).containsExactly(0, 1);
        }
    }

    /**
     * An IDX images file's labels file (IDX or {@code .npy}) must have one label per image of the file, also when
     * {@code :N} keeps fewer: before 2026-12-07 only the first N were compared, so another file's labels passed.
     */
    @Test
    void idxLabelsAreCountedAgainstTheWholeImagesFile() throws IOException {
        Path images = dir.resolve("c-images-idx3-ubyte");
        Files.write(images, IdxFiles.u8(new int[] {0, 255, 51, 102, 1, 2}, 3, 2, 1));
        Path two = dir.resolve("two-labels-idx1-ubyte");
        Files.write(two, IdxFiles.u8(new int[] {1, 0}, 2));
        Path four = dir.resolve("four.npy");
        Npy.write(four, NpyArray.ofLongs(NpyDType.INT64, new long[] {1, 0, 2, 2}, 4));
        for (Path labels : new Path[] {two, four}) {
            for (String count : new String[] {":1", ":2", ""}) {
                String spec = images + ":labels=" + labels + count;
                assertThatThrownBy(() -> DataSource.loadDataset(spec, DType.F64, 0))
                        .as(spec).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("data source '" + spec + "': 3 examples in " + images + " but "
                                + (labels == two ? 2 : 4) + " labels in " + labels);
            }
        }
        Path three = dir.resolve("three-labels-idx1-ubyte.gz");
        Files.write(three, IdxFiles.gzip(IdxFiles.u8(new int[] {4, 1, 3}, 3)));
        try (Dataset d = DataSource.loadDataset(images + ":labels=" + three + ":2", DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(0, 1, 0.2, 0.4);
            assertThat(d.labels()).containsExactly(4, 1);
        }
    }

    // ------------------------------------------------------------------------------------------ errors

    /** {@code labels=} with no path named the working directory ("is a directory, not an IDX file"). */
    @Test
    void anOptionWithoutAValueIsRefusedNamingIt() throws IOException {
        Path x = dir.resolve("x.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2}, 2, 1)) {
            Npy.write(x, t);
        }
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":labels=", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + x + ":labels=': option 'labels=' has no value; expected labels=PATH");
        Path z = dir.resolve("d.npz");
        Npz.writeArrays(z, Map.of("x", NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {1, 2}, 2, 1)));
        assertThatThrownBy(() -> DataSource.loadDataset(z + ":y=", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + z + ":y=': option 'y=' has no value; expected y=KEY");
        Path c = dir.resolve("c.csv");
        Files.writeString(c, "a,label\n1,0\n");
        assertThatThrownBy(() -> DataSource.loadDataset(c + ":label=", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + c + ":label=': option 'label=' has no value; expected label=COLUMN");
        // an archive without arrays (np.savez(f)) says so, not "(it holds )"
        Path none = dir.resolve("none.npz");
        Npz.writeArrays(none, Map.of());
        assertThatThrownBy(() -> DataSource.loadDataset(none.toString(), DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + none + "': no array 'x' in " + none + " (it holds no .npy arrays); name "
                        + "the inputs with :x=KEY");
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":nope=", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown option 'nope'");
    }

    @Test
    void unknownSourcesAndMissingFiles() {
        assertThatThrownBy(() -> DataSource.loadDataset("mnist:train", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source 'mnist:train': unknown source 'mnist'; expected " + DataSource.FORMS);
        Path missing = dir.resolve("missing.npy");
        assertThatThrownBy(() -> DataSource.loadDataset(missing.toString(), DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + missing + "': file not found: " + missing);
        assertThatThrownBy(() -> DataSource.loadDataset("plainword", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source 'plainword': file not found: plainword");
        assertThatThrownBy(() -> DataSource.loadDataset(dir.toString(), DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + dir + "': " + dir + " is a directory, not a file");
        assertThatThrownBy(() -> DataSource.loadDataset(" ", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source: empty spec; expected " + DataSource.FORMS);
        assertThatThrownBy(() -> DataSource.loadDataset("synthetic:4", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("give the number of examples and at least one dimension");
        // more values than a tensor holds: said of the data, not "tile the computation", which cannot help it
        assertThatThrownBy(() -> DataSource.loadDataset("synthetic:2000000,2000", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source 'synthetic:2000000,2000': more than 2^31-1 values, more than one tensor "
                        + "holds; use fewer examples or smaller ones");
    }

    @Test
    void badOptions() throws IOException {
        Path x = dir.resolve("x.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2}, 2, 1)) {
            Npy.write(x, t);
        }
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":lables=y.npy", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + x + ":lables=y.npy': unknown option 'lables'; this format takes "
                        + "labels= and :N");
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":first", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + x + ":first': option 'first' is neither KEY=VALUE nor a number "
                        + "of examples");
        assertThatThrownBy(() -> DataSource.loadDataset(x + ":0", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith(": N=0 is outside [1, 2147483647]");
    }

    @Test
    void nonFiniteDataIsRejectedNamingTheExample() throws IOException {
        Path x = dir.resolve("inf.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2, 3, Double.POSITIVE_INFINITY}, 2, 2)) {
            Npy.write(x, t);
        }
        assertThatThrownBy(() -> DataSource.loadDataset(x.toString(), DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(x + ": contains Infinity at flat index 3 (example 1)");
        Path empty = dir.resolve("empty.npy");
        try (Tensor t = Tensor.zeros(DType.F32, 0, 3)) {
            Npy.write(empty, t);
        }
        assertThatThrownBy(() -> DataSource.loadDataset(empty.toString(), DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + empty + "': has no examples (shape [0, 3])");
    }

    /** Checks every source passes: no empty axis, no rank-1 inputs, no :N beyond the file. */
    @Test
    void emptyAxesRankOneAndTooManyExamplesAreRefused() throws IOException {
        Path zero = dir.resolve("z.npy");
        try (Tensor t = Tensor.of(new double[0], 4, 2, 0)) {
            Npy.write(zero, t);
        }
        assertThatThrownBy(() -> DataSource.loadDataset(zero.toString(), DType.F32, 0))
                .hasMessage("data source '" + zero + "': shape [4, 2, 0] has an axis of size 0 (axis 2); every "
                        + "example needs at least one feature");
        Path rank1 = dir.resolve("v.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2}, 2)) {
            Npy.write(rank1, t);
        }
        assertThatThrownBy(() -> DataSource.loadDataset(rank1.toString(), DType.F32, 0))
                .hasMessageContaining("shape [2] has one axis");
        Path two = dir.resolve("two.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2)) {
            Npy.write(two, t);
        }
        assertThatThrownBy(() -> DataSource.loadDataset(two + ":3", DType.F32, 0))
                .hasMessage("data source '" + two + ":3': asks for the first 3 examples, but the file has 2");
        try (Dataset d = DataSource.loadDataset(two + ":2", DType.F32, 0)) {
            assertThat(d.size()).isEqualTo(2);
        }
    }

    // ------------------------------------------------------------------------------- file handling fixes

    @Test
    void aCsvWithoutAHeaderIsRefusedNotReadWithoutItsFirstRow() throws IOException {
        for (String text : new String[] {"1.5,2.5\n3,4\n5,6\n", "1,1\n3,4\n", "0,1,2\n3,4,5\n", "-1e3,nan\n1,2\n"}) {
            Path f = Files.writeString(dir.resolve("headerless.csv"), text);
            String first = "[" + text.substring(0, text.indexOf('\n')).replace(",", ", ") + "]";
            assertThatThrownBy(() -> DataSource.loadDataset(f.toString(), DType.F64, 0)).as(text)
                    .isInstanceOf(DataFormatException.class)
                    .hasMessageStartingWith(f + ": the first row " + first + " is all numbers, so it is data, not a "
                            + "header; CSV sources start with a header row of column names: add one")
                    .hasMessageNotContaining("CSVFormat");
        }
        // a header with one name among numbers is a header
        Path named = Files.writeString(dir.resolve("named.csv"), "1,label\n3,0\n5,1\n");
        try (Dataset d = DataSource.loadDataset(named.toString(), DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(3, 5);
            assertThat(d.labels()).containsExactly(0, 1);
        }
        Path empty = Files.writeString(dir.resolve("empty-name.csv"), "a,,b\n1,2,3\n");
        assertThatThrownBy(() -> DataSource.loadDataset(empty.toString(), DType.F64, 0))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(empty + ": a header name is missing: column 2 of the header row [a, , b] is empty; name "
                        + "every column");
    }

    /** An npz whose y is not class indices (one-hot, regression targets, -1): :y=none, and a hint when it is y. */
    @Test
    void npzLabelsCanBeSkippedAndAnUnusableDefaultYSaysHow() throws IOException {
        Path f = dir.resolve("onehot.npz");
        Map<String, NpyArray> arrays = new LinkedHashMap<>();
        arrays.put("x", NpyArray.ofDoubles(NpyDType.FLOAT32, new double[] {1, 2, 3, 4, 5, 6}, 3, 2));
        arrays.put("y", NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {1, 0, 0, 1, 0, 1}, 3, 2));
        Npz.writeArrays(f, arrays);
        assertThatThrownBy(() -> DataSource.loadDataset(f.toString(), DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + f + "': labels " + f + ", entry 'y.npy' must be rank 1 (one class index "
                        + "per example), got shape [3, 2] (one-hot rows, or scores: save y.argmax(axis=1), the class "
                        + "of each row); to load " + f + " without labels (its x alone), add :y=none: '" + f
                        + ":y=none'");
        // with :N only the first N labels are read, and the refusal names the file's shape, not theirs ([2, 2])
        assertThatThrownBy(() -> DataSource.loadDataset(f + ":2", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("must be rank 1 (one class index per example), got shape [3, 2] (one-hot rows");
        for (String spec : new String[] {f + ":y=none", "npz:" + f + ":y=NONE:2"}) {
            try (Dataset d = DataSource.loadDataset(spec, DType.F64, 0)) {
                assertThat(d.hasLabels()).as(spec).isFalse();
                assertThat(d.x().toDoubleArray()).as(spec).startsWith(1, 2, 3, 4);
            }
        }
        Path regression = dir.resolve("regression.npz");
        arrays.put("y", NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {0.5, -1, 2}, 3));
        Npz.writeArrays(regression, arrays);
        assertThatThrownBy(() -> DataSource.loadDataset(regression + ":2", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith("is not a whole number (labels are class indices); to load " + regression
                        + " without labels (its x alone), add :y=none: '" + regression + ":2:y=none'");
        try (Tensor x = DataSource.load(regression + ":2:y=none", DType.F64, 0)) {
            assertThat(x.shape()).containsExactly(2, 2);
        }
        // an explicit y=KEY is what was asked for: its error has no hint; a missing one names :y=none
        arrays.put("t", NpyArray.ofLongs(NpyDType.INT64, new long[] {0, -1, 2}, 3));
        Npz.writeArrays(regression, arrays);
        assertThatThrownBy(() -> DataSource.loadDataset(regression + ":y=t", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith("labels are class indices 0, 1, ...");
        assertThatThrownBy(() -> DataSource.loadDataset(regression + ":y=labels", DType.F64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + regression + ":y=labels': no array 'labels' in " + regression
                        + " (it holds x, y, t); name the labels with :y=KEY (:y=none: no labels)");
    }

    /** np.savez(f, x=x, y=y, names=np.array(['a', 'b'])): the unicode names are never read. */
    @Test
    void npzEntriesNotUsedAreNotRead() throws IOException {
        Path f = dir.resolve("named.npz");
        try (java.io.OutputStream os = Files.newOutputStream(f);
             java.util.zip.ZipOutputStream zip = new java.util.zip.ZipOutputStream(os)) {
            zip.putNextEntry(new java.util.zip.ZipEntry("x.npy"));
            zip.write(RawNpy.npy(RawNpy.dict("<f8", "(2, 1)"), RawNpy.f8(1, 2)));
            zip.putNextEntry(new java.util.zip.ZipEntry("y.npy"));
            zip.write(RawNpy.npy(RawNpy.dict("<i8", "(2,)"), RawNpy.concat(new byte[] {1, 0, 0, 0, 0, 0, 0, 0},
                    new byte[8])));
            zip.putNextEntry(new java.util.zip.ZipEntry("names.npy"));
            zip.write(RawNpy.npy(RawNpy.dict("<U1", "(2,)"), new byte[] {'a', 0, 0, 0, 'b', 0, 0, 0}));
            zip.closeEntry();
        }
        assertThat(Npz.keys(f)).containsExactly("x", "y", "names");
        try (Dataset d = DataSource.loadDataset(f.toString(), DType.F64, 0)) {
            assertThat(d.x().toDoubleArray()).containsExactly(1, 2);
            assertThat(d.labels()).containsExactly(1, 0);
        }
        assertThatThrownBy(() -> DataSource.loadDataset(f + ":x=names", DType.F64, 0))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(f + ", entry 'names.npy': unsupported dtype '<U1'");
    }

    /** PATH.npy:N of a [600000, 1000] float32 file (2.4 GB, more than one tensor holds): only 10 rows read. */
    @Test
    void npyCountReadsOnlyTheFirstRows() throws IOException {
        Path big = dir.resolve("big.npy");
        byte[] header = NpyHeader.encode(NpyDType.FLOAT32, new int[] {600000, 1000});
        float[] rows = new float[3 * 1000];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = i;
        }
        try (java.io.RandomAccessFile file = new java.io.RandomAccessFile(big.toFile(), "rw")) {
            file.write(RawNpy.concat(header, RawNpy.f4(rows)));
            file.setLength(header.length + 600000L * 1000 * 4); // sparse: the rest reads as zeros
        }
        try (Dataset d = DataSource.loadDataset(big + ":3", DType.F32, 0)) {
            assertThat(d.x().shape()).containsExactly(3, 1000);
            assertThat(d.x().toFloatArray()).containsExactly(rows);
        }
        // labels are checked against the file's examples, then kept for those read
        Path labels = dir.resolve("labels.npy");
        Npy.write(labels, NpyArray.ofLongs(NpyDType.UINT8, new long[600000], 600000));
        try (Dataset d = DataSource.loadDataset(big + ":labels=" + labels + ":2", DType.F32, 0)) {
            assertThat(d.labels()).hasSize(2);
        }
        Path few = dir.resolve("few.npy");
        Npy.write(few, NpyArray.ofLongs(NpyDType.UINT8, new long[] {0, 1}, 2));
        assertThatThrownBy(() -> DataSource.loadDataset(big + ":labels=" + few + ":2", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageEndingWith(": 600000 examples but 2 labels");
        // a file cut short is refused even when the rows asked for are there
        Path cut = dir.resolve("cut.npy");
        Files.write(cut, RawNpy.concat(NpyHeader.encode(NpyDType.FLOAT32, new int[] {4, 1000}), RawNpy.f4(rows)));
        assertThatThrownBy(() -> DataSource.loadDataset(cut + ":2", DType.F32, 0))
                .isInstanceOf(NpyFormatException.class).hasMessageContaining("truncated .npy file");
    }

    /** {@code cat x.npy | ntk4j ... --data npy:/dev/stdin}: a pipe is read once, from its start. */
    @Test
    void pipesAreReadOnceOrRefusedClearly() throws Exception {
        Path fifo = dir.resolve("fifo");
        org.junit.jupiter.api.Assumptions.assumeTrue(new ProcessBuilder("mkfifo", fifo.toString()).start()
                .waitFor() == 0, "mkfifo is not available");
        byte[] npy = RawNpy.npy(RawNpy.dict("<f8", "(3, 2)"), RawNpy.f8(1, 2, 3, 4, 5, 6));
        try (Dataset d = throughPipe(fifo, npy, () -> DataSource.loadDataset("npy:" + fifo + ":2", DType.F64, 0))) {
            assertThat(d.x().toDoubleArray()).containsExactly(1, 2, 3, 4);
        }
        byte[] idx = IdxFiles.gzip(IdxFiles.u8(new int[] {0, 51, 102, 255}, 2, 2));
        try (Dataset d = throughPipe(fifo, idx, () -> DataSource.loadDataset("idx:" + fifo, DType.F64, 0))) {
            assertThat(d.x().toDoubleArray()).containsExactly(0, 0.2, 0.4, 1);
        }
        try (Dataset d = throughPipe(fifo, "a,label\n2,1\n".getBytes(StandardCharsets.UTF_8),
                () -> DataSource.loadDataset("csv:" + fifo, DType.F64, 0))) {
            assertThat(d.labels()).containsExactly(1);
        }
        // refused without opening the pipe (no writer here: an open would block)
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), () ->
                assertThatThrownBy(() -> DataSource.loadDataset("npz:" + fifo, DType.F64, 0))
                        .isInstanceOf(NpyFormatException.class)
                        .hasMessage(fifo + ": not a regular file (a pipe or device): a .npz archive is read from its "
                                + "end, where the zip directory is; save it to a file first"));
    }

    private interface Load {
        Dataset load() throws Exception;
    }

    /** Loads while another thread writes {@code bytes} into the FIFO (which the load must open). */
    private static Dataset throughPipe(Path fifo, byte[] bytes, Load load) throws Exception {
        Thread writer = new Thread(() -> {
            try (java.io.OutputStream out = Files.newOutputStream(fifo)) {
                out.write(bytes);
            } catch (IOException e) {
                // the reader stopped early (a broken pipe): what it read is what the test checks
            }
        });
        writer.setDaemon(true); // blocked in its open if the load never opens the FIFO: the test fails below
        writer.start();
        // a reader that opens the pipe a second time blocks there (no writer is left): a failure, not a hang
        Dataset d = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30),
                load::load, "reading the pipe blocked: did it open it twice?");
        writer.join(10_000);
        assertThat(writer.isAlive()).as("the writer is done").isFalse();
        return d;
    }
}
