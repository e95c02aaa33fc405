package org.ntk4j.io;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Data sources named by a spec string (the {@code --data}, {@code --train} and {@code --test} options).
 *
 * <table>
 *   <caption>Sources</caption>
 *   <tr><th>spec</th><th>what</th></tr>
 *   <tr><td>{@code default:train[:N]}, {@code default:test[:N]}</td><td>the embedded default: the first
 *       2,000 training and first 1,000 test images of Fashion-MNIST with labels, shipped in the jar
 *       (1.3 MB); [N, 28, 28, 1], pixels in [0, 1], 10 classes</td></tr>
 *   <tr><td>{@code fashion-mnist:train[:N]}, {@code fashion-mnist:test[:N]}</td><td>the full 60,000/10,000
 *       images from the Debian package {@code dataset-fashion-mnist} in {@value #FASHION_MNIST_DIR} (another
 *       directory with the same four files: system property {@value #FASHION_MNIST_DIR_PROPERTY}); the first N
 *       only are kept (the gzip files are decompressed to their end, to check their CRC-32)</td></tr>
 *   <tr><td>{@code synthetic:N,D1[,D2...]}</td><td>N seeded standard-normal examples [D1, D2, ...],
 *       unlabelled</td></tr>
 *   <tr><td>{@code PATH.npy[:labels=LABELS][:N]}</td><td>x [N, ...] of any NumPy number dtype; labels from a
 *       rank-1 integer {@code .npy} or IDX file</td></tr>
 *   <tr><td>{@code PATH.npz[:x=KEY][:y=KEY|none][:N]}</td><td>x and (if present) labels from the entries
 *       {@code x} and {@code y}, or the keys given ({@code y=none}: unlabelled); only those entries are
 *       read. {@code x=KEY1,KEY2,...} packs several arrays (the inputs of a model with several, e.g.
 *       {@code input_ids,attention_mask}), all with the same N, into x [N, d1 + d2 + ...]: per example, each
 *       array's values (row-major) concatenated in the order given</td></tr>
 *   <tr><td>{@code PATH.csv[:label=COLUMN][:N]}</td><td>a header row, then one example per row: every column
 *       but the label column is a numeric feature, x is [N, features]; the label column is the one named
 *       {@code label} if there is one, or the one given ({@code label=none}: unlabelled)</td></tr>
 *   <tr><td>{@code PATH[:labels=LABELS][:N]} (any other name, e.g. {@code train-images-idx3-ubyte.gz})</td>
 *       <td>an IDX file, plain or gzip; rank-3 images [N, H, W] become NHWC [N, H, W, 1]; labels default to
 *       the sibling file with {@code images-idx3} replaced by {@code labels-idx1} when it exists</td></tr>
 * </table>
 *
 * <p>A file source may also be written with an explicit format prefix ({@code npy:}, {@code npz:},
 * {@code csv:}, {@code idx:}) whatever its name. Options follow the path after colons, so paths containing
 * ':' cannot be named. The trailing {@code :N} keeps the first N examples; a {@code .npy}, the x of an
 * {@code .npz}, labels beside them, an IDX file and a CSV file are read only as far as those (an {@code .npz}
 * entry up to 2^31-1 bytes and a gzip file are still read to their end, unconverted, to check their CRC-32), so an
 * array of more than a tensor holds gives its first rows. A {@code .npy}, IDX or CSV source may be a pipe
 * ({@code npy:/dev/stdin}); an {@code .npz}, read from its end, may not.
 *
 * <p><b>Scaling.</b> Unsigned-byte data (IDX {@code u8}, NumPy {@code uint8}: images) is divided by 255 into
 * [0, 1]; every other dtype is read as stored. Standardisation is a separate, explicit step fitted on the
 * training set ({@link Standardizer}); laying examples out for a model is {@link InputLayout}.
 *
 * <p><b>Labels</b> are class indices, whole numbers in [0, 2^24) ({@link Dataset#requireClassIndex}; integer
 * dtypes, or floats holding whole numbers); the number of classes is 10 for Fashion-MNIST and max(label) + 1
 * otherwise.
 *
 * <p><b>Errors</b> are one line: an {@link IllegalArgumentException} for a spec that names no source, a
 * missing file, bad options, labels that do not match, NaN or Inf in the data; an {@link IOException}
 * ({@link NpyFormatException}, {@link DataFormatException}) for a file that cannot be read, naming the file
 * and, for CSV, the line and column (NaN and Inf in a CSV cell too).
 */
public final class DataSource {
    /** Where the Debian package {@code dataset-fashion-mnist} installs its files. */
    public static final String FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";
    /** System property overriding {@link #FASHION_MNIST_DIR}. */
    public static final String FASHION_MNIST_DIR_PROPERTY = "ntk4j.fashionMnistDir";
    /** The embedded default training set (2,000 Fashion-MNIST images). */
    public static final String DEFAULT_TRAIN = "default:train";
    /** The embedded default test set (1,000 Fashion-MNIST images). */
    public static final String DEFAULT_TEST = "default:test";
    /** Examples in the embedded default splits. */
    public static final int DEFAULT_TRAIN_SIZE = 2000;
    /** Examples in the embedded default test split. */
    public static final int DEFAULT_TEST_SIZE = 1000;
    /** Fashion-MNIST's class names, by label. */
    public static final List<String> FASHION_MNIST_CLASSES = List.of("T-shirt/top", "Trouser", "Pullover",
            "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    /** One line listing the source forms, for help texts and errors. */
    public static final String FORMS = "default:train|test[:N], fashion-mnist:train|test[:N], "
            + "synthetic:N,D1[,D2...], PATH.npy[:labels=PATH][:N], PATH.npz[:x=KEY][:y=KEY|none][:N], "
            + "PATH.csv[:label=COLUMN][:N], or an IDX file (plain or .gz)[:labels=PATH][:N]";

    private static final String RESOURCE_DIR = "/org/ntk4j/io/default/";

    private DataSource() {
    }

    /**
     * Loads {@code spec} as a batch [N, ...] of the given dtype, without labels (for the kernel and approx
     * commands); NaN or Inf in the data is an error. The caller closes the tensor.
     *
     * @param spec the source (see the class comment)
     * @param dtype the tensor type
     * @param seed the random seed of {@code synthetic:} sources; ignored by the others
     * @return the inputs [N, ...], which the caller closes
     * @throws IllegalArgumentException for a spec that names no source, a missing file, bad options, an empty
     *     axis, NaN or Inf in the data
     * @throws IOException if a file cannot be read or is malformed ({@link NpyFormatException},
     *     {@link DataFormatException})
     */
    public static Tensor load(String spec, DType dtype, long seed) throws IOException {
        try (Dataset d = loadDataset(spec, dtype, seed)) {
            // Hand the storage over without a copy; closing the dataset then closes nothing.
            return d.x().reshapeMove(d.x().shape());
        }
    }

    /**
     * Loads {@code spec} (see the class comment) as a dataset: inputs of {@code dtype} and labels when the
     * source has them. The seed only affects {@code synthetic:} sources. The caller closes the dataset.
     *
     * @param spec the source (see the class comment)
     * @param dtype the tensor type of the inputs
     * @param seed the random seed of {@code synthetic:} sources; ignored by the others
     * @return the dataset, which the caller closes
     * @throws IllegalArgumentException for a spec that names no source, a missing file, bad options, labels that
     *     do not match, an empty axis, NaN or Inf in the data
     * @throws IOException if a file cannot be read or is malformed ({@link NpyFormatException},
     *     {@link DataFormatException})
     */
    public static Dataset loadDataset(String spec, DType dtype, long seed) throws IOException {
        Dataset d = loadAnyShape(spec, dtype, seed);
        int[] shape = d.x().shape();
        for (int axis = 1; axis < shape.length; axis++) {
            if (shape[axis] < 1) {
                d.close();
                throw new IllegalArgumentException("data source '" + spec + "': shape " + Shapes.str(shape)
                        + " has an axis of size 0 (axis " + axis + "); every example needs at least one feature");
            }
        }
        return d;
    }

    /** {@link #loadDataset} before the check, shared by every source, that no axis of the inputs is empty. */
    private static Dataset loadAnyShape(String spec, DType dtype, long seed) throws IOException {
        String s = spec.trim();
        if (s.isEmpty()) {
            throw new IllegalArgumentException("data source: empty spec; expected " + FORMS);
        }
        int colon = s.indexOf(':');
        String scheme = colon < 0 ? "" : s.substring(0, colon).toLowerCase(Locale.ROOT);
        String rest = colon < 0 ? "" : s.substring(colon + 1);
        switch (scheme) {
            case "synthetic":
                return new Dataset(s, synthetic(s, dtype, seed), null, 0);
            case "default":
                return embedded(s, rest, dtype);
            case "fashion-mnist":
                return fashionMnist(s, rest, dtype, fashionMnistDir());
            case "npy":
            case "npz":
            case "csv":
            case "idx":
                return file(s, scheme, rest, dtype);
            default:
                break;
        }
        String path = colon < 0 ? s : s.substring(0, colon);
        if (colon >= 0 && !Files.exists(Path.of(path)) && !looksLikeFile(path)) {
            throw new IllegalArgumentException("data source '" + spec + "': unknown source '" + scheme
                    + "'; expected " + FORMS);
        }
        return file(s, "", s, dtype);
    }

    /**
     * The files {@code spec} reads: its path and a {@code labels=} file (none for {@code synthetic:}, {@code default:}
     * and {@code fashion-mnist:}), as named, whether or not they exist — for a command to refuse writing over its
     * inputs ({@link OutputFiles}).
     *
     * @param spec the source (see the class comment)
     * @return the paths named, possibly none; names that are not valid paths are left out
     */
    public static List<Path> files(String spec) {
        String s = spec.trim();
        int colon = s.indexOf(':');
        String scheme = colon < 0 ? "" : s.substring(0, colon).toLowerCase(Locale.ROOT);
        String body;
        switch (scheme) {
            case "synthetic":
            case "default":
            case "fashion-mnist":
                return List.of();
            case "npy":
            case "npz":
            case "csv":
            case "idx":
                body = s.substring(colon + 1);
                break;
            default:
                body = s;
        }
        List<Path> files = new ArrayList<>();
        String[] parts = body.split(":", -1);
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].trim();
            String named = i == 0 ? p : p.toLowerCase(Locale.ROOT).startsWith("labels=") ? p.substring(7).trim() : "";
            if (!named.isEmpty()) {
                try {
                    files.add(Path.of(named));
                } catch (java.nio.file.InvalidPathException e) {
                    // not a file name: the loader reports it
                }
            }
        }
        return files;
    }

    private static boolean looksLikeFile(String path) {
        return path.contains("/") || path.contains(".");
    }

    // ----------------------------------------------------------------------------------- named sources

    private static Dataset embedded(String spec, String rest, DType dtype) throws IOException {
        String[] parts = rest.split(":", -1);
        String split = parts[0].toLowerCase(Locale.ROOT);
        if (!split.equals("train") && !split.equals("test") || parts.length > 2) {
            throw new IllegalArgumentException("data source '" + spec + "': expected default:train[:N] or "
                    + "default:test[:N] (the embedded " + DEFAULT_TRAIN_SIZE + " training and " + DEFAULT_TEST_SIZE
                    + " test images of Fashion-MNIST)");
        }
        int total = split.equals("train") ? DEFAULT_TRAIN_SIZE : DEFAULT_TEST_SIZE;
        int n = parts.length == 2 ? count(spec, parts[1], total) : total;
        String prefix = split.equals("train") ? "train" : "t10k";
        Tensor x;
        try (InputStream in = resource(prefix + "-images-idx3-ubyte.gz")) {
            x = Idx.read(in, spec + " (embedded images)", dtype, n);
        }
        int[] labels;
        try (InputStream in = resource(prefix + "-labels-idx1-ubyte.gz")) {
            labels = Idx.readLabels(in, spec + " (embedded labels)", n);
        } catch (IOException | RuntimeException e) {
            x.close();
            throw e;
        }
        return images(spec, x, labels, FASHION_MNIST_CLASSES.size());
    }

    private static InputStream resource(String name) throws IOException {
        InputStream in = DataSource.class.getResourceAsStream(RESOURCE_DIR + name);
        if (in == null) {
            throw new IOException("embedded data " + RESOURCE_DIR + name + " is missing from the class path "
                    + "(a broken build: the ntk4j-io jar ships it)");
        }
        return in;
    }

    /**
     * The directory holding the Fashion-MNIST files.
     *
     * @return the system property {@value #FASHION_MNIST_DIR_PROPERTY} when set, else {@value #FASHION_MNIST_DIR}
     */

    public static Path fashionMnistDir() {
        return Path.of(System.getProperty(FASHION_MNIST_DIR_PROPERTY, FASHION_MNIST_DIR));
    }

    /** {@code fashion-mnist:SPLIT[:N]} read from {@code dir} (tests point it at an empty directory). */
    static Dataset fashionMnist(String spec, String rest, DType dtype, Path dir) throws IOException {
        String[] parts = rest.split(":", -1);
        String split = parts[0].toLowerCase(Locale.ROOT);
        if (!split.equals("train") && !split.equals("test") || parts.length > 2) {
            throw new IllegalArgumentException("data source '" + spec + "': expected fashion-mnist:train[:N] or "
                    + "fashion-mnist:test[:N]");
        }
        String prefix = split.equals("train") ? "train" : "t10k";
        Path images = dir.resolve(prefix + "-images-idx3-ubyte.gz");
        Path labelsFile = dir.resolve(prefix + "-labels-idx1-ubyte.gz");
        for (Path p : new Path[] {images, labelsFile}) {
            if (!Files.isRegularFile(p)) {
                throw new IllegalArgumentException("data source '" + spec + "': " + p + " not found; install "
                        + "Fashion-MNIST with: apt-get install dataset-fashion-mnist (or use " + DEFAULT_TRAIN
                        + " / " + DEFAULT_TEST + ", the embedded subset)");
            }
        }
        int total = split.equals("train") ? 60000 : 10000;
        int n = parts.length == 2 ? count(spec, parts[1], total) : -1;
        Tensor x = Idx.read(images, dtype, n);
        int[] labels;
        try {
            labels = Idx.readLabels(labelsFile, n);
        } catch (IOException | RuntimeException e) {
            x.close();
            throw e;
        }
        return images(spec, x, labels, FASHION_MNIST_CLASSES.size());
    }

    /** Scales unsigned bytes to [0, 1], makes [N, H, W] images NHWC, and checks the labels. */
    private static Dataset images(String spec, Tensor raw, int[] labels, int classes) {
        Tensor x = raw;
        try {
            divide(x, 255);
            if (x.rank() == 3) {
                x = x.reshapeMove(x.dim(0), x.dim(1), x.dim(2), 1);
            }
            if (labels != null && labels.length != x.dim(0)) {
                throw new IllegalArgumentException("data source '" + spec + "': " + x.dim(0) + " images but "
                        + labels.length + " labels");
            }
            return new Dataset(spec, x, labels, classes);
        } catch (RuntimeException e) {
            x.close();
            raw.close();
            throw e;
        }
    }

    private static int count(String spec, String text, int max) {
        int n;
        try {
            n = Integer.parseInt(text.trim());
        } catch (NumberFormatException e) {
            if (text.trim().matches("\\d+")) {
                // digits beyond int: a count out of range, as any other too large N is said to be
                throw new IllegalArgumentException("data source '" + spec + "': N=" + text.trim() + " is outside [1, "
                        + (max > 0 ? max : Integer.MAX_VALUE) + "]", e);
            }
            throw new IllegalArgumentException("data source '" + spec + "': expected a number of examples after "
                    + "the last ':', got '" + text + "'");
        }
        if (n < 1 || (max > 0 && n > max)) {
            throw new IllegalArgumentException("data source '" + spec + "': N=" + n + " is outside [1, "
                    + (max > 0 ? max : Integer.MAX_VALUE) + "]");
        }
        return n;
    }

    // ------------------------------------------------------------------------------------------- files

    private static Dataset file(String spec, String scheme, String body, DType dtype) throws IOException {
        String[] parts = body.split(":", -1);
        String path = parts[0];
        if (path.isEmpty()) {
            throw new IllegalArgumentException("data source '" + spec + "': no file named; expected " + FORMS);
        }
        Map<String, String> options = new LinkedHashMap<>();
        int limit = -1;
        for (int i = 1; i < parts.length; i++) {
            String o = parts[i];
            int eq = o.indexOf('=');
            if (eq < 0) {
                if (!o.trim().matches("\\d+")) {
                    throw new IllegalArgumentException("data source '" + spec + "': option '" + o + "' is neither "
                            + "KEY=VALUE nor a number of examples");
                }
                if (limit >= 0) {
                    throw new IllegalArgumentException("data source '" + spec + "': the number of examples is given "
                            + "twice (" + limit + " and " + o.trim() + ")");
                }
                limit = count(spec, o, -1);
            } else {
                // a key given twice is refused, not the last one taken (labels=a:labels=b read b without a word)
                String key = o.substring(0, eq).trim().toLowerCase(Locale.ROOT);
                if (options.put(key, o.substring(eq + 1).trim()) != null) {
                    throw new IllegalArgumentException("data source '" + spec + "': option '" + key + "=' is given "
                            + "twice");
                }
            }
        }
        Path p = Path.of(path);
        if (!Files.exists(p)) {
            throw new IllegalArgumentException("data source '" + spec + "': file not found: " + p);
        }
        if (Files.isDirectory(p)) {
            throw new IllegalArgumentException("data source '" + spec + "': " + p + " is a directory, not a file");
        }
        String format = scheme;
        if (format.isEmpty()) {
            String lower = path.toLowerCase(Locale.ROOT);
            format = lower.endsWith(".npy") ? "npy" : lower.endsWith(".npz") ? "npz"
                    : lower.endsWith(".csv") ? "csv" : "idx";
        }
        Loaded loaded;
        switch (format) {
            case "npy":
                allow(spec, options, "labels");
                loaded = npy(spec, p, options.get("labels"), dtype, limit);
                break;
            case "npz":
                allow(spec, options, "x", "y");
                loaded = npz(spec, p, options, dtype, limit);
                break;
            case "csv":
                allow(spec, options, "label");
                loaded = csv(spec, p, options.get("label"), dtype, limit);
                break;
            case "idx":
                allow(spec, options, "labels");
                loaded = idx(spec, p, options.get("labels"), dtype, limit);
                break;
            default:
                throw new AssertionError(format);
        }
        return finish(spec, loaded, limit);
    }

    private static void allow(String spec, Map<String, String> options, String... keys) {
        List<String> known = Arrays.asList(keys);
        for (String k : options.keySet()) {
            if (!known.contains(k)) {
                throw new IllegalArgumentException("data source '" + spec + "': unknown option '" + k + "'; this "
                        + "format takes " + (keys.length == 0 ? "no options" : String.join("=, ", keys) + "=")
                        + " and :N");
            }
            if (options.get(k).isEmpty()) {
                // an empty labels= would name the working directory ("is a directory, not an IDX file")
                throw new IllegalArgumentException("data source '" + spec + "': option '" + k + "=' has no value; "
                        + "expected " + k + "=" + (k.equals("labels") ? "PATH" : k.equals("label") ? "COLUMN" : "KEY"));
            }
        }
    }

    /** Inputs and optional labels before the checks shared by every file format. */
    private static final class Loaded {
        final Tensor x;
        final int[] labels;

        Loaded(Tensor x, int[] labels) {
            this.x = x;
            this.labels = labels;
        }
    }

    private static Dataset finish(String spec, Loaded loaded, int limit) {
        Tensor x = loaded.x;
        int[] labels = loaded.labels;
        try {
            if (x.rank() == 0) {
                throw new IllegalArgumentException("data source '" + spec + "': a single number (a 0-d array, shape "
                        + "()), not examples [N, ...]; save x.reshape(1, 1) for one example of one feature");
            }
            if (x.dim(0) < 1) {
                throw new IllegalArgumentException("data source '" + spec + "': has no examples (shape "
                        + Shapes.str(x.shape()) + ")");
            }
            if (x.rank() == 1) {
                throw new IllegalArgumentException("data source '" + spec + "': shape " + Shapes.str(x.shape())
                        + " has one axis, so it is not clear what an example is; save rows of features [N, D]: "
                        + "x.reshape(-1, 1) for " + x.dim(0) + " one-feature examples, x.reshape(1, -1) for one "
                        + "example of " + x.dim(0) + " features");
            }
            if (labels != null && labels.length != x.dim(0)) {
                throw new IllegalArgumentException("data source '" + spec + "': " + x.dim(0) + " examples but "
                        + labels.length + " labels");
            }
            if (limit > x.dim(0)) {
                throw new IllegalArgumentException("data source '" + spec + "': asks for the first " + limit
                        + " examples, but the file has " + x.dim(0));
            }
            if (limit > 0 && limit < x.dim(0)) {
                Tensor head = org.ntk4j.cpu.Layout.sliceAxis(x, 0, 0, limit);
                x.close();
                x = head;
                labels = labels == null ? null : Arrays.copyOf(labels, limit);
            }
            int classes = 0;
            if (labels != null) {
                for (int i = 0; i < labels.length; i++) {
                    // the one check of every source's labels (an IDX file's int32 labels are checked only here)
                    Dataset.requireClassIndex(labels[i], i, "data source '" + spec + "'", null);
                    classes = Math.max(classes, labels[i] + 1);
                }
            }
            return new Dataset(spec, x, labels, classes);
        } catch (RuntimeException e) {
            x.close();
            throw e;
        }
    }

    /**
     * The label column of a CSV file without {@code label=}: the one named {@code label}, else the one named so in
     * another case ({@code Label}, {@code LABEL}: pandas users' spelling; before 2026-12-07 such a column was read
     * as a feature, the targets among the inputs); -1 when none is. Two names differing only in case, neither
     * {@code label}, are refused: which is meant is unclear.
     */
    private static int defaultLabelColumn(Path p, List<String> header) throws DataFormatException {
        int exact = header.indexOf("label");
        if (exact >= 0) {
            return exact;
        }
        int found = -1;
        for (int c = 0; c < header.size(); c++) {
            if (header.get(c).equalsIgnoreCase("label")) {
                if (found >= 0) {
                    throw new DataFormatException(p + ": columns " + (found + 1) + " (" + header.get(found) + ") and "
                            + (c + 1) + " (" + header.get(c) + ") could each be the label column; name it with "
                            + ":label=COLUMN, or read every column as a feature with :label=none");
                }
                found = c;
            }
        }
        return found;
    }

    /**
     * A .npy of any number dtype: its header and its first {@code limit} examples (all: -1) only, in one pass (a
     * pipe is read once; a file larger than a tensor gives the examples that fit); labels from a file.
     */
    private static Loaded npy(String spec, Path p, String labelsOption, DType dtype, int limit) throws IOException {
        FileLabels labels = labelsOption == null ? null : readLabelsFile(spec, Path.of(labelsOption), limit);
        return withLabels(spec, Npy.readRows(p, dtype, limit), labels);
    }

    /**
     * Labels read from a file: the first ones (those of the examples read, with {@code :N}) and how many the file
     * holds, which must be as many as the examples of the inputs' file, whatever N.
     *
     * @param labels the labels read
     * @param count the labels in the file
     */
    private record FileLabels(int[] labels, int count) {
    }

    /**
     * Inputs read with their header: uint8 scaled to [0, 1]; the labels, one per example of the file (its shape
     * uncut), kept for the examples read.
     */
    private static Loaded withLabels(String spec, Npy.Rows rows, FileLabels labels) {
        Tensor x = rows.tensor();
        try {
            int[] fileShape = rows.header().shape();
            if (labels != null && fileShape.length > 0 && labels.count() != fileShape[0]) {
                throw new IllegalArgumentException("data source '" + spec + "': " + fileShape[0] + " examples but "
                        + labels.count() + " labels");
            }
            if (rows.header().dtype() == NpyDType.UINT8) {
                divide(x, 255);
            }
            return new Loaded(x, labels == null ? null : x.rank() == 0 ? labels.labels()
                    : Arrays.copyOf(labels.labels(), x.dim(0)));
        } catch (RuntimeException e) {
            x.close();
            throw e;
        }
    }

    /**
     * x and the labels of an .npz: the entries {@code x} and {@code y}, or those named by {@code x=}, {@code y=}
     * ({@code y=none}: no labels). Only those entries are read (any other may be of a type ntk4j does not read),
     * x only as far as its first {@code limit} examples (but to its end for its CRC-32).
     */
    private static Loaded npz(String spec, Path p, Map<String, String> options, DType dtype, int limit)
            throws IOException {
        List<String> keys = Npz.keys(p);
        String xKey = options.getOrDefault("x", "x");
        List<String> xKeys = Arrays.asList(xKey.split(",", -1));
        for (String k : xKeys) {
            if (!keys.contains(k)) {
                throw new IllegalArgumentException("data source '" + spec + "': no array '" + k + "' in " + p
                        + " (" + holds(keys) + "); name the inputs with :x=KEY");
            }
        }
        String yOption = options.get("y");
        boolean unlabelled = yOption != null && yOption.equalsIgnoreCase("none");
        String yKey = yOption == null || unlabelled ? "y" : yOption;
        if (yOption != null && !unlabelled && !keys.contains(yKey)) {
            throw new IllegalArgumentException("data source '" + spec + "': no array '" + yKey + "' in " + p
                    + " (" + holds(keys) + "); name the labels with :y=KEY (:y=none: no labels)");
        }
        FileLabels labels = null;
        if (!unlabelled && keys.contains(yKey)) {
            String where = p + ", entry '" + yKey + ".npy'"; // as Npz names entries
            // the default y is used when it is there; one that is not class indices says how to do without it
            String skip = yOption != null ? "" : "; to load " + p + " without labels (its x alone), add :y=none: '"
                    + spec + ":y=none'";
            try {
                // with :N, only the first N labels are read (and the entry no further, like x's)
                labels = labelsOf(spec, where, Npz.readEntry(p, yKey, (channel, source, size) -> Npy.read(channel,
                        source, size, limit), null, Npy.ArrayRows::partial));
            } catch (NpyFormatException e) {
                throw skip.isEmpty() ? e : new NpyFormatException(e.getMessage() + skip, e);
            } catch (IllegalArgumentException e) {
                throw skip.isEmpty() ? e : new IllegalArgumentException(e.getMessage() + skip, e);
            }
        }
        if (xKeys.size() > 1) {
            return packed(spec, p, xKeys, dtype, limit, labels);
        }
        Npy.Rows x = Npz.readEntry(p, xKey, (channel, source, size) -> Npy.readRows(channel, source, dtype, size,
                limit), rows -> rows.tensor().close(), Npy.Rows::partial);
        return withLabels(spec, x, labels);
    }

    /** What an archive of these arrays holds, for a message: "it holds x, y", or "it holds no .npy arrays". */
    private static String holds(List<String> keys) {
        return keys.isEmpty() ? "it holds no .npy arrays" : "it holds " + String.join(", ", keys);
    }

    /**
     * The arrays {@code keys} of an .npz packed into one input [N, d1 + d2 + ...]: per example, each array's values
     * (row-major) concatenated in the order of the keys (a model with several inputs takes them so). Every array
     * needs the same N; uint8 arrays are scaled to [0, 1] as a single x would be. The labels, one per example of
     * the files (their N uncut), are kept for the examples read, as {@link #withLabels} keeps a single x's.
     */
    private static Loaded packed(String spec, Path p, List<String> keys, DType dtype, int limit, FileLabels labels)
            throws IOException {
        List<Tensor> parts = new ArrayList<>();
        try {
            int width = 0;
            int firstN = -1;
            for (String k : keys) {
                Npy.Rows rows = Npz.readEntry(p, k, (channel, source, size) -> Npy.readRows(channel, source, dtype,
                        size, limit), r -> r.tensor().close(), Npy.Rows::partial);
                parts.add(rows.tensor());
                int[] fileShape = rows.header().shape();
                if (fileShape.length < 1 || firstN >= 0 && fileShape[0] != firstN) {
                    String why = fileShape.length < 1 ? "; each array of x needs a row per example: [N, ...]"
                            : ", array '" + keys.get(0) + "' has " + firstN + " examples; every array of x needs one "
                            + "row per example";
                    throw new IllegalArgumentException("data source '" + spec + "': array '" + k + "' has shape "
                            + Shapes.str(fileShape) + why);
                }
                firstN = fileShape[0];
                if (rows.header().dtype() == NpyDType.UINT8) {
                    divide(rows.tensor(), 255);
                }
                width += Shapes.size(Shapes.dropFirst(rows.tensor().shape()));
            }
            if (labels != null && labels.count() != firstN) {
                throw new IllegalArgumentException("data source '" + spec + "': " + firstN + " examples but "
                        + labels.count() + " labels");
            }
            int n = parts.get(0).dim(0);
            Tensor x = Tensor.empty(dtype, n, width);
            int offset = 0;
            for (Tensor t : parts) {
                int size = Shapes.size(Shapes.dropFirst(t.shape()));
                for (int e = 0; e < n; e++) {
                    for (int j = 0; j < size; j++) {
                        x.setFlat(e * width + offset + j, t.getFlat(e * size + j));
                    }
                }
                offset += size;
            }
            return new Loaded(x, labels == null ? null : Arrays.copyOf(labels.labels(), n));
        } finally {
            parts.forEach(Tensor::close);
        }
    }


    private static Loaded idx(String spec, Path p, String labelsOption, DType dtype, int limit)
            throws IOException {
        Path labelsPath = null;
        if (labelsOption != null) {
            labelsPath = Path.of(labelsOption);
        } else {
            String name = p.getFileName().toString();
            if (name.contains("images-idx3")) {
                Path sibling = p.resolveSibling(name.replace("images-idx3", "labels-idx1"));
                if (Files.isRegularFile(sibling)) {
                    labelsPath = sibling;
                }
            }
        }
        Idx.Read read = Idx.readWithHeader(p, dtype, limit); // one pass: a pipe is read once
        Tensor x = read.values();
        try {
            if (read.header().typeCode() == 0x08) {
                divide(x, 255);
            }
            if (x.rank() == 3) {
                x = x.reshapeMove(x.dim(0), x.dim(1), x.dim(2), 1);
            }
            int[] labels = null;
            if (labelsPath != null) {
                if (!Files.exists(labelsPath)) {
                    throw new IllegalArgumentException("data source '" + spec + "': labels file not found: "
                            + labelsPath);
                }
                // the labels file's count is checked against the images file's, not against the examples kept:
                // with :N, a file of other images' labels (one more, one fewer) would otherwise pass unseen
                int fileLabels;
                if (labelsPath.toString().toLowerCase(Locale.ROOT).endsWith(".npy")) {
                    FileLabels fromNpy = readLabelsFile(spec, labelsPath, limit);
                    labels = fromNpy.labels();
                    fileLabels = fromNpy.count();
                } else {
                    Idx.Labels labelsRead = idxLabels(labelsPath, limit);
                    labels = labelsRead.labels();
                    fileLabels = labelsRead.header().shape()[0];
                }
                int fileExamples = read.header().shape()[0];
                if (fileLabels != fileExamples) {
                    throw new IllegalArgumentException("data source '" + spec + "': " + fileExamples + " examples in "
                            + p + " but " + fileLabels + " labels in " + labelsPath);
                }
                if (limit > 0 && labels.length > limit) {
                    labels = Arrays.copyOf(labels, limit);
                }
            }
            return new Loaded(x, labels);
        } catch (IOException | RuntimeException e) {
            x.close();
            throw e;
        }
    }

    /**
     * The first {@code limit} labels (all: -1) of a rank-1 .npy (integer, or floats holding whole numbers) or IDX
     * file, and how many it holds; only those are read (and checked), as only the first rows of x are.
     */
    private static FileLabels readLabelsFile(String spec, Path p, int limit) throws IOException {
        if (!Files.exists(p)) {
            throw new IllegalArgumentException("data source '" + spec + "': labels file not found: " + p);
        }
        if (p.toString().toLowerCase(Locale.ROOT).endsWith(".npy")) {
            return labelsOf(spec, p.toString(), Npy.read(p, limit));
        }
        Idx.Labels read = idxLabels(p, limit);
        return new FileLabels(read.labels(), read.header().shape()[0]);
    }

    /**
     * Labels from an IDX file; a file that is not one (a CSV or {@code .npz} of labels) is refused saying what
     * {@code labels=} takes, not only that its magic number is not IDX's.
     */
    private static Idx.Labels idxLabels(Path p, int limit) throws IOException {
        try {
            return Idx.readLabelsWithHeader(p, limit);
        } catch (DataFormatException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(p + ": not an IDX file")) {
                throw new DataFormatException(e.getMessage() + "; labels= takes class indices in a rank-1 .npy file "
                        + "or an IDX file", e);
            }
            throw e;
        }
    }

    /** The labels read from a .npy file or entry (its first ones with :N), each a class index. */
    private static FileLabels labelsOf(String spec, String where, Npy.ArrayRows rows) {
        NpyArray a = rows.array();
        int[] fileShape = rows.header().shape(); // the file's, not the first rows' read with :N
        if (fileShape.length != 1) {
            throw new IllegalArgumentException("data source '" + spec + "': labels " + where + " must be rank 1 "
                    + "(one class index per example), got shape " + Shapes.str(fileShape)
                    + (fileShape.length == 2 && fileShape[1] == 1 ? " (a column of labels: save y.reshape(-1))"
                    : fileShape.length == 2 ? " (one-hot rows, or scores: save y.argmax(axis=1), the class of each "
                    + "row)" : ""));
        }
        int[] labels = new int[a.size()];
        for (int i = 0; i < labels.length; i++) {
            long v;
            try {
                v = a.getLong(i);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("data source '" + spec + "': label " + a.getDouble(i)
                        + " of example " + i + " in " + where + " is not a whole number (labels are class indices)");
            }
            labels[i] = Dataset.requireClassIndex(v, i, "data source '" + spec + "'", where);
        }
        return new FileLabels(labels, fileShape[0]);
    }

    // --------------------------------------------------------------------------------------------- CSV

    /**
     * A CSV file with a header row (RFC 4180, as Excel and {@code pandas.to_csv(index=False)} write it): the
     * label column is {@code labelOption} (a header name, {@code none} for no labels) or, when null, the column
     * named {@code label} if present; every other column is a feature. Cells are trimmed and read as NumPy and
     * pandas read them ({@link #parseCell}): decimal numbers, and NaN and Inf, which are refused as not finite; a
     * cell written as a whole number converts exactly or is refused ({@link #requireExactInteger}). A cell refused
     * is named as a text editor shows it ({@link CsvRow#at}): its line (1-based, the header line and blank lines
     * counted) and its column (1-based) with the column's name. The header row is checked by
     * {@link #checkHeader}: a first row of numbers (a file without a header) is refused, not read as names.
     */
    private static Loaded csv(String spec, Path p, String labelOption, DType dtype, int limit) throws IOException {
        // the header is read as a record like the others and checked here (Commons CSV's own header handling
        // would report duplicate names with advice about its API)
        // cells are trimmed here (String.trim, as Commons CSV's setTrim), not by the parser: a quoted cell's line
        // breaks at the very start or end of its text, which trimming drops, still count for the lines of the cells
        // before it (CsvRow.line counts back from the record's last line through the cells' text as parsed)
        CSVFormat format = CSVFormat.DEFAULT.builder().setIgnoreSurroundingSpaces(true).setIgnoreEmptyLines(true)
                .setTrim(false).get();
        List<double[]> rows = new ArrayList<>();
        List<Integer> labelList = new ArrayList<>();
        int labelIndex;
        int columns;
        String notFinite = null; // the first cell holding NaN or Inf, refused as such (an IllegalArgumentException)
        try (Reader reader = openSkippingByteOrderMark(p);
             CSVParser parser = CSVParser.builder().setReader(reader).setFormat(format).get()) {
            java.util.Iterator<CSVRecord> records = parser.iterator();
            if (!records.hasNext()) {
                throw new DataFormatException(p + ": no header row (CSV sources need column names in the first line)");
            }
            List<String> header = records.next().stream().map(String::trim).toList();
            checkHeader(p, header);
            columns = header.size();
            if (labelOption == null) {
                labelIndex = defaultLabelColumn(p, header);
            } else if (labelOption.equalsIgnoreCase("none")) {
                labelIndex = -1;
            } else {
                labelIndex = header.indexOf(labelOption);
                if (labelIndex < 0) {
                    throw new IllegalArgumentException("data source '" + spec + "': no column '" + labelOption
                            + "' in " + p + " (columns: " + String.join(", ", header) + ")");
                }
            }
            if (columns - (labelIndex >= 0 ? 1 : 0) == 0) {
                throw new DataFormatException(p + ": has no feature columns besides the label column '"
                        + header.get(labelIndex) + "'");
            }
            // with :N, the rows after the first N are not read (nor checked), as a .npy's are not
            reading:
            while ((limit < 0 || rows.size() < limit) && records.hasNext()) {
                CSVRecord r = records.next();
                CsvRow row = new CsvRow(p, r, parser.getCurrentLineNumber(), header);
                if (r.size() != columns) {
                    throw new DataFormatException(p + ": line " + row.line(0) + " has " + r.size() + " cells, the "
                            + "header " + columns + (columns == 1 ? separatorHint(header.get(0)) : ""));
                }
                double[] features = new double[columns - (labelIndex >= 0 ? 1 : 0)];
                int f = 0;
                for (int c = 0; c < columns; c++) {
                    String cell = r.get(c).trim();
                    if (c == labelIndex) {
                        labelList.add(parseLabel(row, c, cell));
                    } else {
                        features[f] = parseNumber(row, c, cell);
                        requireInRange(row, c, cell, features[f], dtype);
                        if (!Double.isFinite(features[f])) {
                            notFinite = notFinite(row, c, cell, features[f]);
                            break reading;
                        }
                        f++;
                        requireExactInteger(row, c, cell, dtype);
                    }
                }
                rows.add(features);
            }
        } catch (DataFormatException e) {
            throw e;
        } catch (java.nio.charset.CharacterCodingException e) {
            // the decoder's exception says no more than "Input length = 1": not shown, as a class name means nothing
            // to the user (before 2026-12-07 it was, "(java.nio.charset.MalformedInputException: Input length = 1)")
            throw new DataFormatException(p + ": cannot parse CSV: not UTF-8 text (a binary file, or text in another "
                    + "encoding: save it as UTF-8)", e);
        } catch (IOException e) {
            // Commons CSV's CSVException (an IOException): malformed quoting, with the line it starts on.
            throw new DataFormatException(p + ": cannot parse CSV: " + e.getMessage(), e);
        } catch (java.io.UncheckedIOException e) {
            throw new DataFormatException(p + ": cannot parse CSV: " + e.getCause().getMessage(), e);
        } catch (IllegalArgumentException | IllegalStateException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("data source '")) {
                throw e;
            }
            // Commons CSV reports malformed quoting this way.
            throw new DataFormatException(p + ": cannot parse CSV: " + e.getMessage(), e);
        }
        if (notFinite != null) {
            throw new IllegalArgumentException(notFinite);
        }
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("data source '" + spec + "': " + p + " has a header but no rows");
        }
        int d = rows.get(0).length;
        Tensor x = Tensor.empty(dtype, rows.size(), d);
        for (int i = 0; i < rows.size(); i++) {
            double[] r = rows.get(i);
            for (int j = 0; j < d; j++) {
                x.setFlat(i * d + j, r[j]);
            }
        }
        int[] labels = null;
        if (labelIndex >= 0) {
            labels = new int[labelList.size()];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = labelList.get(i);
            }
        }
        return new Loaded(x, labels);
    }

    /**
     * The header row of a CSV source: every column named, no name twice, and not a row of numbers. A first row
     * whose every cell is a number ({@link #parseCell}) is data: the file has no header (np.savetxt writes none by
     * default), or pandas' numbered column names ({@code 0,1,2}, which no row of data can be told apart from).
     * Reading it as names would drop an example without a word, so it is refused, saying how to add a header.
     */
    private static void checkHeader(Path p, List<String> header) throws DataFormatException {
        boolean numbers = true;
        for (String cell : header) {
            try {
                parseCell(cell);
            } catch (NumberFormatException e) {
                numbers = false; // a name that is not a number: a header
            }
        }
        if (numbers) {
            throw new DataFormatException(p + ": the first row " + header + " is all numbers, so it is data, not a "
                    + "header; CSV sources start with a header row of column names: add one (np.savetxt(f, x, "
                    + "delimiter=',', header='x0,x1,...', comments='')), or name pandas' numbered columns "
                    + "(df.columns = ['x0', 'x1', ...]) before to_csv");
        }
        for (int c = 0; c < header.size(); c++) {
            if (header.get(c).isEmpty()) {
                throw new DataFormatException(p + ": a header name is missing: column " + (c + 1) + " of the header "
                        + "row " + header + " is empty; name every column");
            }
            int first = header.subList(0, c).indexOf(header.get(c));
            if (first >= 0) {
                throw new DataFormatException(p + ": the header row names two columns '" + header.get(c)
                        + "' (columns " + (first + 1) + " and " + (c + 1) + "); give each column its own name");
            }
        }
    }

    /**
     * {@code p} as UTF-8 text, past a leading byte-order mark if it has one: Excel's "CSV UTF-8" writes one, and
     * Commons CSV would otherwise make the mark (U+FEFF) part of the first header name, so {@code label} there
     * would not be recognised.
     */
    private static BufferedReader openSkippingByteOrderMark(Path p) throws IOException {
        BufferedReader reader = Files.newBufferedReader(p, StandardCharsets.UTF_8);
        try {
            reader.mark(1);
            if (reader.read() != '\uFEFF') {
                reader.reset();
            }
            return reader;
        } catch (IOException | RuntimeException e) {
            reader.close();
            throw e;
        }
    }

    /**
     * A record of a CSV file, to name its cells as a text editor shows them: "x.csv: line 17, column 3 (pixel2)".
     *
     * @param file the file
     * @param record the record
     * @param endLine the line the record ends on (Commons CSV's line count once the record is read: 1-based, blank
     *     lines and the header line counted)
     * @param header the column names
     */
    private record CsvRow(Path file, CSVRecord record, long endLine, List<String> header) {
        /**
         * The line cell {@code c} starts on (its first character's, the opening quote of a quoted cell): the record's
         * last line less the line breaks of the cells from c on, so that a record with a quoted line break in a cell
         * (RFC 4180) is placed right too, one at the very start or end of a cell's text included (the record holds
         * the cells untrimmed; {@link #csv} trims them as it reads them).
         */
        long line(int c) {
            long line = endLine;
            for (int i = c; i < record.size(); i++) {
                String v = record.get(i);
                for (int k = 0; k < v.length(); k++) {
                    char ch = v.charAt(k);
                    if (ch == '\n' || ch == '\r' && (k + 1 == v.length() || v.charAt(k + 1) != '\n')) {
                        line--;
                    }
                }
            }
            return line;
        }

        /**
         * "x.csv: line 17, column 3 (pixel2)": where cell {@code c} is. The column's name is escaped to one line
         * (a quoted header name may hold a line break, {@code "x\ny"}): the NaN/Inf refusal is an
         * IllegalArgumentException, which unlike DataFormatException does not escape its message, and put the name's
         * line break into the message raw (found by PrefixReadProperties, 2026-12-07).
         */
        String at(int c) {
            return file + ": line " + line(c) + ", column " + (c + 1) + " ("
                    + DataFormatException.oneLine(header.get(c)) + ")";
        }
    }

    private static double parseNumber(CsvRow row, int index, String cell) throws DataFormatException {
        try {
            return parseCell(cell);
        } catch (NumberFormatException e) {
            if (cell.isBlank()) {
                // pandas' to_csv writes a missing value (NaN, None) as an empty cell, R's write.csv as NA
                throw new DataFormatException(row.at(index) + ": the cell is empty, a missing value (pandas writes "
                        + "NaN as an empty cell); every cell must be a number (drop or impute the missing values)");
            }
            throw new DataFormatException(row.at(index) + ": '" + cell + "' is not a number"
                    + (DECIMAL_COMMA.matcher(cell.trim()).matches()
                    ? " (a decimal comma? CSV numbers take '.', as NumPy and pandas read them)"
                    : separatorHint(cell)));
        }
    }

    /** A number written with a decimal comma, as a spreadsheet in a German or French locale saves it. */
    private static final java.util.regex.Pattern DECIMAL_COMMA = java.util.regex.Pattern.compile("[+-]?[0-9]*,[0-9]+");

    /**
     * For a header or cell that holds ';' or a tab: a file of another separator (a spreadsheet's "CSV" in a locale
     * with decimal commas separates cells by ';'), read as one column; else "".
     */
    private static String separatorHint(String text) {
        return text.indexOf(';') >= 0 || text.indexOf('\t') >= 0 ? " (cells separated by ';' or tabs? CSV sources are "
                + "comma-separated, with '.' as the decimal point: pandas' df.to_csv(f, index=False) writes one)" : "";
    }

    /**
     * Refuses a cell written as a finite number ({@code 1e400}, or {@code 1e39} read into float32) whose value is
     * beyond {@code dtype}'s range, naming its line and column, as a {@code .npy} file's value beyond float32's range
     * is refused: rounded, it would be ±∞, which the dataset's check would then report as an Infinity the file does
     * not hold. NaN and Inf written as such ({@code nan}, {@code inf}) are refused as such ({@link #notFinite}).
     */
    private static void requireInRange(CsvRow row, int index, String cell, double value, DType dtype)
            throws DataFormatException {
        boolean f32 = dtype == DType.F32;
        // NaN is neither; the word is looked at only for the rare infinite value
        if ((Double.isInfinite(value) || f32 && Float.isInfinite((float) value)) && !isInfinityWord(cell)) {
            throw new DataFormatException(row.at(index) + ": '" + cell.trim() + "' is beyond "
                    + (f32 ? "float32" : "float64") + "'s range (±"
                    + (f32 ? Float.toString(Float.MAX_VALUE) : Double.toString(Double.MAX_VALUE)) + ")"
                    + (f32 && !Double.isInfinite(value) ? "; read the file as float64 (--dtype f64, DType.F64)" : ""));
        }
    }

    /**
     * The refusal of a cell that reads as NaN or ±Inf ({@code nan}, {@code -inf}), naming its line and column
     * ("x.csv: line 17, column 3 (pixel2): 'nan' is NaN; ..."): every source refuses inputs that are not finite, and
     * the dataset's own check could name it only by its flat index in x, which counts neither the header line nor the
     * label column. An IllegalArgumentException, as that check's (the value is read, not malformed).
     */
    private static String notFinite(CsvRow row, int index, String cell, double value) {
        return row.at(index) + ": '" + cell.trim() + "' is " + value + "; the inputs must be finite numbers (drop or "
                + "impute the missing values)";
    }

    /** Whether a cell is Inf written as a word ({@code inf}, {@code -Infinity}), not a number too large. */
    private static boolean isInfinityWord(String cell) {
        String s = cell.trim();
        String word = s.startsWith("+") || s.startsWith("-") ? s.substring(1) : s;
        return word.equalsIgnoreCase("inf") || word.equalsIgnoreCase("infinity");
    }

    /** A cell of an optional sign and digits only: an integer (a token id, say), not a decimal fraction. */
    private static final java.util.regex.Pattern INTEGER_CELL = java.util.regex.Pattern.compile("[+-]?[0-9]+");

    /**
     * Refuses a cell written as a whole number ({@link #INTEGER_CELL}) that {@code dtype} cannot hold exactly, as
     * a {@code .npy} file's integers are ({@link ExactIntegers}): 16777217 is not read as 16777216 in float32.
     */
    private static void requireExactInteger(CsvRow row, int index, String cell, DType dtype)
            throws DataFormatException {
        String s = cell.trim();
        if (!INTEGER_CELL.matcher(s).matches()) {
            return;
        }
        try {
            ExactIntegers.require(ExactIntegers.significantBits(new java.math.BigInteger(s)), s, dtype,
                    row.at(index));
        } catch (IllegalArgumentException e) {
            throw new DataFormatException(e.getMessage(), e);
        }
    }

    /**
     * A CSV cell's number, as NumPy's {@code loadtxt} and pandas' {@code read_csv} read one: an optional sign, then
     * digits with an optional fraction ({@code 1}, {@code 1.}, {@code .5}) and an optional exponent ({@code 5e-1}),
     * or NaN or Inf ({@code nan}, {@code inf}, {@code infinity} in any case, with an optional sign). What Java's
     * {@link Double#parseDouble} accepts beyond these, type suffixes ({@code 2f}, {@code 1d}) and hexadecimal
     * ({@code 0x1p3}), is not a number in a CSV file. Surrounding spaces and control characters are ignored, as
     * {@link Double#parseDouble} ignores them.
     *
     * @throws NumberFormatException when {@code cell} is not such a number
     */
    static double parseCell(String cell) {
        String s = cell.trim();
        int n = s.length();
        int i = n > 0 && (s.charAt(0) == '+' || s.charAt(0) == '-') ? 1 : 0;
        String word = s.substring(i);
        if (word.equalsIgnoreCase("nan")) {
            return Double.NaN;
        }
        if (word.equalsIgnoreCase("inf") || word.equalsIgnoreCase("infinity")) {
            return s.charAt(0) == '-' ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
        }
        int digits = 0;
        for (; i < n && isDigit(s.charAt(i)); i++) {
            digits++;
        }
        if (i < n && s.charAt(i) == '.') {
            for (i++; i < n && isDigit(s.charAt(i)); i++) {
                digits++;
            }
        }
        if (digits > 0 && i < n && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            i++;
            if (i < n && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
                i++;
            }
            int exponentDigits = 0;
            for (; i < n && isDigit(s.charAt(i)); i++) {
                exponentDigits++;
            }
            if (exponentDigits == 0) {
                throw new NumberFormatException(cell);
            }
        }
        if (digits == 0 || i != n) {
            throw new NumberFormatException(cell);
        }
        return Double.parseDouble(s);
    }

    /** ASCII 0 to 9 only: {@link Character#isDigit} would take other scripts' digits, which Java cannot parse. */
    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    /** A label cell: a class index ({@link Dataset#notClassIndex}, the rule every source's labels follow). */
    private static int parseLabel(CsvRow row, int index, String cell) throws DataFormatException {
        double v = parseNumber(row, index, cell);
        String problem = Dataset.notClassIndex(v);
        if (problem != null) {
            throw new DataFormatException(row.at(index) + ", the label column: '" + cell + "' " + problem
                    + "; labels are class indices 0, 1, ...");
        }
        return (int) v;
    }

    // --------------------------------------------------------------------------------------- synthetic

    private static Tensor synthetic(String s, DType dtype, long seed) {
        String body = s.substring("synthetic:".length());
        String[] parts = body.split(",");
        int[] shape = new int[parts.length];
        try {
            for (int i = 0; i < parts.length; i++) {
                shape[i] = Integer.parseInt(parts[i].trim());
                if (shape[i] < 1) {
                    throw new NumberFormatException();
                }
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("data source '" + s + "': expected synthetic:N,D1[,D2,...] with "
                    + "positive integers");
        }
        if (shape.length < 2) {
            throw new IllegalArgumentException("data source '" + s + "': give the number of examples and at least "
                    + "one dimension, e.g. synthetic:64,784");
        }
        long values = 1;
        for (int d : shape) {
            values *= d;
            if (values > Integer.MAX_VALUE) {
                // the data must be one tensor: tiling the kernel does not help here
                throw new IllegalArgumentException("data source '" + s + "': more than 2^31-1 values, more than one "
                        + "tensor holds; use fewer examples or smaller ones");
            }
        }
        return Tensor.randomNormal(dtype, seed * 31 + 17, shape);
    }

    /** Divides every element by {@code divisor} in place (x / 255 rounds exactly as NumPy's {@code x / 255}). */
    private static void divide(Tensor x, double divisor) {
        int size = x.size();
        for (int i = 0; i < size; i++) {
            x.setFlat(i, x.getFlat(i) / divisor);
        }
    }
}
