package org.ntk4j.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.train.EpochMetrics;
import org.ntk4j.train.TrainState;

/**
 * Training checkpoints as two NumPy archives in a directory: {@code NAME.npz}, the parameters alone (a
 * {@link ParamsFile}: what {@code --params-in} of the CLI's {@code kernel}, {@code predict} and {@code train} and
 * {@code study --checkpoints} read), and {@code NAME.state.npz}, the rest of the {@link TrainState}: the
 * optimizer's buffers under {@code optimizer/BUFFER/PATH}, {@code meta/position} (int64:
 * completed epochs, steps into the next epoch, global steps, examples of the epoch so far), {@code meta/loss_sum}
 * (float64 [1]), {@code meta/history} (float64 [epochs + 1, 8], the {@link EpochMetrics} rows) and
 * {@code meta/config} (the settings, UTF-8 bytes), and {@code meta/run/KEY} (UTF-8 bytes, optional) for what
 * the caller records about the run's inputs beyond its settings (the CLI: the dtype, the standardisation and a
 * fingerprint of the training data), so that a resume with other inputs can be refused, and {@code meta/params}
 * (UTF-8 bytes), a digest of the parameter file's zip directory, by which a state file beside parameters it was not
 * written with is refused. Both are written atomically ({@link AtomicFile}), the parameters first, so a state file
 * always has its parameters. A parameter file of any {@code NAME.npz} name may have one beside it
 * ({@link #save(TrainState, Path, Map)}: the CLI's {@code train --params-out}), so that it carries its run's
 * record ({@link #record}) as a checkpoint does, and is one.
 *
 * <p><b>Names.</b> A checkpoint NAME in a directory is its state file and its parameter file found by their names:
 * the stem NAME exactly (file systems tell case apart), the extensions {@code .state.npz} and {@code .npz} in any
 * case, as {@link #stateFile} names a state file beside a parameter file of either case: {@code train --params-out
 * F.NPZ} writes {@code F.NPZ} and {@code F.state.npz}, a checkpoint {@code F} that {@link #latest} finds and
 * {@link #load} reads. Where a directory holds two such files for one NAME (a case-sensitive file system with both
 * {@code F.npz} and {@code F.NPZ}, whose state file is the same {@code F.state.npz}), the state file is the one
 * named {@code NAME.state.npz}, else the first by name, and the parameter file the one whose zip directory the state
 * file's digest ({@code meta/params}) names (one that cannot be read, a copy cut short, is not it), else
 * {@code NAME.npz}, else the first by name (which the digest check then refuses, naming both files).
 */
public final class Checkpoints {
    /** The suffix of the state archive. */
    public static final String STATE_SUFFIX = ".state.npz";
    private static final String RUN_PREFIX = "meta/run/";
    /** The digest of the parameter file's zip directory ({@link Npz#directoryDigest}) the state was written with. */
    private static final String PARAMS_DIGEST = "meta/params";

    private Checkpoints() {
    }

    /**
     * Writes a checkpoint.
     *
     * @param state the state; not closed
     * @param dir the directory, which must exist
     * @param name the file-name stem, e.g. {@code epoch-0003}
     * @return the parameters' file {@code DIR/NAME.npz}
     * @throws IOException if a file cannot be written
     */
    public static Path save(TrainState state, Path dir, String name) throws IOException {
        return save(state, dir, name, Map.of());
    }

    /**
     * Writes a checkpoint with what the caller records about the run's inputs ({@link #run}).
     *
     * @param state the state; not closed
     * @param dir the directory, which must exist
     * @param name the file-name stem, e.g. {@code epoch-0003}
     * @param run values by key (a key without {@code /}), written as {@code meta/run/KEY}
     * @return the parameters' file {@code DIR/NAME.npz}
     * @throws IOException if a file cannot be written
     */
    public static Path save(TrainState state, Path dir, String name, Map<String, String> run) throws IOException {
        Path params = dir.resolve(name + ".npz");
        save(state, params, run);
        return params;
    }

    /**
     * Writes a checkpoint as a parameter file of any {@code .npz} name and its state file beside it
     * ({@link #stateFile}): how {@code train --params-out F} writes F, so that F carries its run's record as the
     * checkpoints do ({@link #record}).
     *
     * @param state the state; not closed
     * @param params the parameter file, {@code NAME.npz} (not {@code NAME.state.npz}); its directory must exist
     * @param run values by key (a key without {@code /}), written as {@code meta/run/KEY}
     * @throws IllegalArgumentException if {@code params} is not named {@code NAME.npz}, or is named as a state file
     * @throws IOException if a file cannot be written
     */
    public static void save(TrainState state, Path params, Map<String, String> run) throws IOException {
        Path statePath = stateFile(params);
        if (statePath == null) {
            throw new IllegalArgumentException("checkpoint: expected a parameter file NAME.npz, not NAME"
                    + STATE_SUFFIX + ", got " + params);
        }
        ParamsFile.save(state.params(), params);
        Map<String, NpyArray> a = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : state.buffers().entrySet()) {
            a.put(e.getKey(), NpyArray.of(e.getValue()));
        }
        a.put("meta/position", NpyArray.ofLongs(NpyDType.INT64, new long[] {state.epoch(), state.stepInEpoch(),
            state.step(), state.lossCount()}, 4));
        a.put("meta/loss_sum", NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {state.lossSum()}, 1));
        List<EpochMetrics> h = state.history();
        double[] rows = new double[h.size() * EpochMetrics.FIELDS];
        for (int i = 0; i < h.size(); i++) {
            System.arraycopy(h.get(i).toArray(), 0, rows, i * EpochMetrics.FIELDS, EpochMetrics.FIELDS);
        }
        a.put("meta/history", NpyArray.ofDoubles(NpyDType.FLOAT64, rows, h.size(), EpochMetrics.FIELDS));
        a.put("meta/config", text(state.config()));
        a.put(PARAMS_DIGEST, text(Npz.directoryDigest(params)));
        for (Map.Entry<String, String> e : run.entrySet()) {
            a.put(RUN_PREFIX + e.getKey(), text(e.getValue()));
        }
        Npz.writeArrays(statePath, a);
    }

    /**
     * The state file of a parameter file: {@code NAME.state.npz} beside {@code NAME.npz} (the extension in any
     * case); null for a name that is not {@code NAME.npz}, or is a state file's own.
     *
     * @param params a parameter file's path
     * @return the path of its state file, in the same directory; or null
     */
    public static Path stateFile(Path params) {
        Path file = params.getFileName();
        String name = file == null ? "" : file.toString();
        String lower = name.toLowerCase(java.util.Locale.ROOT);
        if (!lower.endsWith(".npz") || lower.endsWith(STATE_SUFFIX) || name.length() == ".npz".length()) {
            return null;
        }
        return params.resolveSibling(name.substring(0, name.length() - ".npz".length()) + STATE_SUFFIX);
    }

    /**
     * What the run that wrote a parameter file recorded of its inputs ({@link #run}), read from its state file
     * ({@link #stateFile}), when that state file was written with this parameter file: null for a file without
     * one, and for a state file whose digest ({@code meta/params}) names other parameters, the record of a file
     * since replaced (a parameter file written again by a command that writes no state: {@code kernel
     * --params-out}), which is not this file's. A state file written before the digest was recorded is taken as
     * the file's.
     *
     * @param params the parameter file
     * @return the recorded values by key (empty for a state file without them), or null
     * @throws IOException if a file cannot be read
     */
    public static Map<String, String> record(Path params) throws IOException {
        Path statePath = stateFile(params);
        if (statePath == null || !Files.isRegularFile(statePath) || !Files.isRegularFile(params)) {
            return null;
        }
        String recorded = recordedDigest(statePath);
        if (recorded != null && !recorded.equals(Npz.directoryDigest(params))) {
            return null;
        }
        return runOf(statePath);
    }

    /**
     * The checkpoint of a directory with the most global steps, or null when there is none: the checkpoint a resume
     * continues from. Only each state file's {@code meta/position} (a few bytes) and each parameter file's zip
     * directory are read, not the optimizer's buffers nor the parameters.
     *
     * <p>A checkpoint whose files cannot be read so far (a damaged or truncated file) is passed over: resuming from
     * an older checkpoint trains the steps since again and ends with the same parameters, bit for bit, so a damaged
     * file costs time, not the run. {@code notes} hears of a file passed over only when it may be newer than the
     * checkpoint chosen ({@code epoch-EEEE} of a later epoch, {@code step-SSSSSS} of more steps, or a name that says
     * neither); a damaged file older than the one chosen is not needed and not mentioned. The chosen checkpoint's
     * two files are checked to belong together ({@link #load} checks it too).
     *
     * @param dir the checkpoint directory
     * @param notes receives one line for each file passed over that may be newer than the checkpoint chosen
     * @return the stem ({@code epoch-0003}) of the latest readable checkpoint, or null when the directory holds no
     *     state file with its parameter file (found by their names as the class comment says: the extensions
     *     {@code .state.npz} and {@code .npz} in any case, so that {@code train --params-out F.NPZ} is one);
     *     {@link #paramsFile} gives its parameter file
     * @throws IllegalArgumentException if the latest checkpoint's state file belongs to other parameters than the
     *     parameter file beside it
     * @throws NpyFormatException if no checkpoint can be read, naming a damaged file and why
     * @throws IOException if the directory or a file cannot be read at all
     */
    public static String latest(Path dir, Consumer<String> notes) throws IOException {
        if (!Files.isDirectory(dir)) {
            return null;
        }
        List<Path> listing = list(dir);
        java.util.SortedSet<String> stems = new java.util.TreeSet<>();
        for (Path p : listing) {
            String f = p.getFileName().toString();
            if (isStateName(f)) {
                stems.add(f.substring(0, f.length() - STATE_SUFFIX.length()));
            }
        }
        String best = null;
        long[] bestPosition = null;
        CheckpointFiles bestFiles = null;
        Map<String, NpyFormatException> damaged = new LinkedHashMap<>();
        for (String stem : stems) {
            CheckpointFiles files;
            long[] position;
            try {
                files = find(dir, stem, listing);
                if (files.params() == null) {
                    continue;
                }
                position = position(files.state());
                Npz.keys(files.params()); // its zip directory: a truncated parameter file is passed over as well
            } catch (NpyFormatException e) {
                damaged.put(stem, e);
                continue;
            }
            if (bestPosition == null || position[2] > bestPosition[2]) {
                bestPosition = position;
                best = stem;
                bestFiles = files;
            }
        }
        for (Map.Entry<String, NpyFormatException> e : damaged.entrySet()) {
            if (best == null) {
                throw new NpyFormatException(dir + ": no checkpoint can be read: " + e.getValue().getMessage(),
                        e.getValue());
            }
            if (mayBeNewer(e.getKey(), bestPosition)) {
                notes.accept("passing over the checkpoint " + e.getKey() + ", which cannot be read ("
                        + e.getValue().getMessage() + "); resuming from " + bestFiles.params()
                        + ", the newest that can (the steps since are trained again, to the same result)");
            }
        }
        if (best != null) {
            requireTheirParameters(bestFiles, recordedDigest(bestFiles.state()));
        }
        return best;
    }

    /** Whether a file name is a state file's: {@code NAME.state.npz}, the suffix in any case, NAME not empty. */
    private static boolean isStateName(String file) {
        return file.length() > STATE_SUFFIX.length() && file.toLowerCase(java.util.Locale.ROOT).endsWith(STATE_SUFFIX);
    }

    /**
     * The two files of a checkpoint.
     *
     * @param state its state file, null when there is none
     * @param params its parameter file, null when there is none
     */
    private record CheckpointFiles(Path state, Path params) {
    }

    /**
     * The files of checkpoint {@code name} in {@code dir}, by the rule the class comment gives (names): the stem
     * exactly, the extensions in any case; of two parameter files for one stem, the one the state file's digest
     * names. Reads the state file's digest only then.
     */
    private static CheckpointFiles find(Path dir, String name) throws IOException {
        return find(dir, name, list(dir));
    }

    /** {@link #find(Path, String)} in the directory's files {@code listing} ({@link #list}). */
    private static CheckpointFiles find(Path dir, String name, List<Path> listing) throws IOException {
        List<Path> states = new ArrayList<>();
        List<Path> params = new ArrayList<>();
        for (Path p : listing) {
            String f = p.getFileName().toString();
            if (!f.startsWith(name) || !Files.isRegularFile(p)) {
                continue;
            }
            String ext = f.substring(name.length());
            if (ext.equalsIgnoreCase(STATE_SUFFIX)) {
                states.add(p);
            } else if (ext.equalsIgnoreCase(".npz")) {
                params.add(p);
            }
        }
        Path state = preferred(states, dir.resolve(name + STATE_SUFFIX));
        Path param = preferred(params, dir.resolve(name + ".npz"));
        if (params.size() > 1 && state != null) {
            String recorded = recordedDigest(state);
            if (recorded != null) {
                for (Path p : params) {
                    String digest;
                    try {
                        digest = Npz.directoryDigest(p);
                    } catch (NpyFormatException e) {
                        // a damaged file (a copy cut short) cannot be the one the digest names: the other is
                        // looked for (in name order, F.NPZ before F.npz, it hid the checkpoint; review 2026-12-07)
                        continue;
                    }
                    if (recorded.equals(digest)) {
                        param = p;
                        break;
                    }
                }
            }
        }
        return new CheckpointFiles(state, param);
    }

    /** The entries of a directory sorted by name; none when it is not a directory. */
    private static List<Path> list(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    /** {@code exact} when among {@code found}, else the first found (by name), else null. */
    private static Path preferred(List<Path> found, Path exact) {
        return found.contains(exact) ? exact : found.isEmpty() ? null : found.get(0);
    }

    /**
     * The parameter file of checkpoint {@code name} in {@code dir}: {@code NAME.npz}, its extension in any case (the
     * class comment's names), as {@link #latest} found it and {@link #load} reads it; {@code DIR/NAME.npz} when there
     * is none.
     *
     * @param dir the checkpoint directory
     * @param name the stem, as {@link #latest} returns it
     * @return the parameter file's path
     * @throws IOException if the directory cannot be listed, or the state file's digest cannot be read where two
     *     parameter files have the name
     */
    public static Path paramsFile(Path dir, String name) throws IOException {
        Path params = find(dir, name).params();
        return params != null ? params : dir.resolve(name + ".npz");
    }

    /** The entry meta/position of a state file, read alone (with its CRC-32 checked). */
    private static long[] position(Path state) throws IOException {
        NpyArray a = Npz.read(state, "meta/position"::equals).get("meta/position");
        if (a == null || a.size() != 4) {
            throw new NpyFormatException(state + ": no entry meta/position of 4 numbers (not a training checkpoint)");
        }
        return a.toLongArray();
    }

    /**
     * Whether a checkpoint passed over may hold more steps than the one at {@code chosen} (its position), judged by
     * its name: {@code epoch-E} ends epoch E, which is later than the chosen one's steps only if E is past the chosen
     * one's completed epochs; {@code step-S} holds S steps. Another name says nothing: it may be newer.
     */
    private static boolean mayBeNewer(String stem, long[] chosen) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(epoch|step)-(\\d{1,18})").matcher(stem);
        if (!m.matches()) {
            return true;
        }
        long n = Long.parseLong(m.group(2));
        return m.group(1).equals("epoch") ? n > chosen[0] : n > chosen[2];
    }

    /** The parameter-file digest a state file records (meta/params), or null for one written before it was. */
    private static String recordedDigest(Path state) throws IOException {
        NpyArray a = Npz.read(state, PARAMS_DIGEST::equals).get(PARAMS_DIGEST);
        return a == null ? null : text(a);
    }

    /**
     * Refuses a state file beside a parameter file it was not written with (a checkpoint of another step or run
     * copied in, or a run stopped between writing the two files of a checkpoint it was replacing): resuming would
     * continue one run's optimizer and position with another's parameters.
     */
    private static void requireTheirParameters(CheckpointFiles files, String recorded) throws IOException {
        if (recorded == null) {
            return; // written before the digest was recorded: nothing to compare
        }
        if (!recorded.equals(Npz.directoryDigest(files.params()))) {
            throw new IllegalArgumentException(files.state() + " was written with other "
                    + "parameters than " + files.params() + " holds (the files of two checkpoints, or of a checkpoint "
                    + "that a run stopped while replacing); remove both files to resume from the checkpoint before");
        }
    }

    /**
     * Reads a checkpoint back.
     *
     * @param dir the checkpoint directory
     * @param name the stem
     * @param model the network, to check and order the parameters
     * @param perExample the shape of one input example
     * @param dtype the dtype of the training
     * @return the state, which the caller closes
     * @throws IllegalArgumentException if the files do not match the model or lack an entry, or the state file was
     *     written with other parameters than the parameter file holds
     * @throws IOException if a file cannot be read
     */
    public static TrainState load(Path dir, String name, Model model, int[] perExample, DType dtype)
            throws IOException {
        CheckpointFiles found = find(dir, name);
        CheckpointFiles files = new CheckpointFiles(
                found.state() != null ? found.state() : dir.resolve(name + STATE_SUFFIX),
                found.params() != null ? found.params() : dir.resolve(name + ".npz"));
        Path statePath = files.state();
        Map<String, NpyArray> a = Npz.read(statePath);
        for (String key : List.of("meta/position", "meta/loss_sum", "meta/history", "meta/config")) {
            if (!a.containsKey(key)) {
                throw new IllegalArgumentException(statePath + ": no entry " + key + " (not a training checkpoint)");
            }
        }
        requireTheirParameters(files, a.containsKey(PARAMS_DIGEST) ? text(a.get(PARAMS_DIGEST)) : null);
        Params params = ParamsFile.load(files.params(), model, perExample, dtype);
        Map<String, Tensor> buffers = new LinkedHashMap<>();
        for (Map.Entry<String, NpyArray> e : a.entrySet()) {
            if (e.getKey().startsWith("optimizer/")) {
                buffers.put(e.getKey(), e.getValue().toTensor(dtype));
            }
        }
        long[] pos = a.get("meta/position").toLongArray();
        double[] rows = a.get("meta/history").toDoubleArray();
        List<EpochMetrics> history = new ArrayList<>();
        for (int i = 0; i + EpochMetrics.FIELDS <= rows.length; i += EpochMetrics.FIELDS) {
            history.add(EpochMetrics.fromArray(rows, i));
        }
        return new TrainState(params, buffers, (int) pos[0], pos[1], pos[2], a.get("meta/loss_sum").getDouble(0),
                pos[3], history, text(a.get("meta/config")));
    }

    /**
     * What the run that wrote a checkpoint recorded about its inputs ({@link #save(TrainState, Path, String, Map)}).
     *
     * @param dir the checkpoint directory
     * @param name the stem
     * @return the values by key, in the archive's order; empty for a checkpoint written without them (as every
     *     checkpoint written before they were recorded)
     * @throws IOException if the state file cannot be read
     */
    public static Map<String, String> run(Path dir, String name) throws IOException {
        Path state = find(dir, name).state();
        return runOf(state != null ? state : dir.resolve(name + STATE_SUFFIX));
    }

    /** The meta/run/KEY entries of a state file. */
    private static Map<String, String> runOf(Path state) throws IOException {
        Map<String, String> run = new LinkedHashMap<>();
        for (Map.Entry<String, NpyArray> e : Npz.read(state, k -> k.startsWith(RUN_PREFIX)).entrySet()) {
            run.put(e.getKey().substring(RUN_PREFIX.length()), text(e.getValue()));
        }
        return run;
    }

    private static NpyArray text(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        long[] bytes = new long[b.length];
        for (int i = 0; i < b.length; i++) {
            bytes[i] = b[i] & 0xff;
        }
        return NpyArray.ofLongs(NpyDType.UINT8, bytes, bytes.length);
    }

    private static String text(NpyArray a) {
        long[] c = a.toLongArray();
        byte[] bytes = new byte[c.length];
        for (int i = 0; i < c.length; i++) {
            bytes[i] = (byte) c[i];
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
