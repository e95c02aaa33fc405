package org.ntk4j.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Network parameters as a NumPy {@code .npz}: one array per parameter, named by its path ({@code 1_dense/w}),
 * in declaration order. {@code numpy.load("params.npz")["1_dense/w"]} reads one back. A model's buffers
 * (constants such as inference-mode batch-norm running statistics, {@link Model#bufferSpecs}) follow, each named
 * {@link #BUFFER_PREFIX} + its path ({@code buffers/1_batch_norm_eval/running_mean}).
 */
public final class ParamsFile {
    /** The prefix of buffer names in the archive, before the buffer's path. */
    public static final String BUFFER_PREFIX = "buffers/";

    private ParamsFile() {
    }

    /**
     * Writes every parameter of {@code params}, whole or not at all.
     *
     * @param params the parameters; left open
     * @param file the {@code .npz} file to create or replace
     * @throws IOException if the file cannot be written
     */
    public static void save(Params params, Path file) throws IOException {
        // read through views: saving hands the parameters' storage to nobody, so parameters already checked for
        // NaN/Inf stay known finite (Tensor.knownFinite) and the next kernel call need not scan them again
        Map<String, Tensor> all = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : params.tensors().entrySet()) {
            all.put(e.getKey(), e.getValue().readView());
        }
        for (Map.Entry<String, Tensor> e : params.buffers().entrySet()) {
            all.put(BUFFER_PREFIX + e.getKey(), e.getValue().readView());
        }
        Npz.write(file, all);
    }

    /**
     * Whether {@code file} holds exactly {@code params}: the same names (buffers under {@link #BUFFER_PREFIX}), in
     * any order, and the same values bit for bit in the parameters' dtype. How a resumed run recognises the
     * parameter file its first attempt wrote.
     *
     * @param file an {@code .npz} archive, as {@link #save} writes
     * @param params the parameters; left open
     * @return true if the file holds them; false if it differs, or cannot be read as an archive of arrays
     * @throws IOException if the file cannot be read at all
     */
    public static boolean holds(Path file, Params params) throws IOException {
        Map<String, Tensor> expected = new java.util.LinkedHashMap<>(params.tensors());
        for (Map.Entry<String, Tensor> e : params.buffers().entrySet()) {
            expected.put(BUFFER_PREFIX + e.getKey(), e.getValue());
        }
        DType dtype = expected.isEmpty() ? DType.F64 : expected.values().iterator().next().dtype();
        Map<String, Tensor> found;
        try {
            found = Npz.readTensors(file, dtype);
        } catch (NpyFormatException e) {
            return false;
        }
        try {
            if (!found.keySet().equals(expected.keySet())) {
                return false;
            }
            for (Map.Entry<String, Tensor> e : expected.entrySet()) {
                Tensor f = found.get(e.getKey());
                if (!java.util.Arrays.equals(f.shape(), e.getValue().shape())) {
                    return false;
                }
                for (int i = 0; i < f.size(); i++) {
                    if (Double.doubleToLongBits(f.getFlat(i)) != Double.doubleToLongBits(e.getValue().getFlat(i))) {
                        return false;
                    }
                }
            }
            return true;
        } finally {
            for (Tensor t : found.values()) {
                t.close();
            }
        }
    }

    /**
     * Refuses a directory given where a parameter file is expected, in one line saying what is: the JDK's own
     * refusal, when the directory is opened, is the path and "(Is a directory)".
     *
     * @param file the path given for a parameter file
     * @throws IllegalArgumentException if {@code file} is a directory
     */
    public static void requireNotDirectory(Path file) {
        if (file != null && java.nio.file.Files.isDirectory(file)) {
            throw new IllegalArgumentException(file + ": a directory; expected a .npz file of parameters, as 'ntk4j "
                    + "kernel --params-out' writes (or a checkpoint epoch-EEEE.npz in train's --checkpoint-dir)");
        }
    }

    /**
     * Reads parameters for {@code model} on per-example inputs {@code perExample} and checks them against the
     * model: same names, shapes, finite values; converted to {@code dtype}. Buffers ({@link #BUFFER_PREFIX}
     * names) come back as the result's {@link Params#buffers}, in the model's declaration order; a buffer the file
     * does not hold takes its declared default (running mean 0, running variance 1), and one the model does not
     * declare is an error. Use {@code model.withBuffers(params.buffers())} to compute with them.
     *
     * @param file the {@code .npz} archive
     * @param model the network the parameters are for
     * @param perExample the shape of one input example
     * @param dtype the element type to convert to
     * @return the parameters in the model's declaration order, which the caller closes
     * @throws IllegalArgumentException if the file is a directory or a {@code .npy}, or the parameters do not match
     *     the model
     * @throws IOException if the file cannot be read or is not a valid {@code .npz}
     */

    public static Params load(Path file, Model model, int[] perExample, DType dtype) throws IOException {
        requireNotDirectory(file);
        if (java.nio.file.Files.isRegularFile(file) && Npz.startsWithNpyMagic(file)) {
            throw new IllegalArgumentException(file + ": a .npy file (one array); parameters are an .npz archive of "
                    + "named arrays, as 'ntk4j kernel --params-out' writes");
        }
        Map<String, Tensor> all = Npz.readTensors(file, dtype);
        Map<String, Tensor> tensors = new java.util.LinkedHashMap<>();
        Map<String, Tensor> fileBuffers = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : all.entrySet()) {
            if (e.getKey().startsWith(BUFFER_PREFIX)) {
                fileBuffers.put(e.getKey().substring(BUFFER_PREFIX.length()), e.getValue());
            } else {
                tensors.put(e.getKey(), e.getValue());
            }
        }
        List<ParamSpec> bufferSpecs = model.bufferSpecs(perExample);
        Map<String, Tensor> buffers = new java.util.LinkedHashMap<>();
        try {
            for (ParamSpec s : bufferSpecs) {
                Tensor t = fileBuffers.remove(s.path());
                if (t == null) {
                    t = Tensor.full(dtype, s.initMean(), s.shape());
                } else if (!java.util.Arrays.equals(t.shape(), s.shape())) {
                    t.close();
                    throw new IllegalArgumentException("buffer '" + s.path() + "' must have shape "
                            + org.ntk4j.tensor.Shapes.str(s.shape()) + ", has "
                            + org.ntk4j.tensor.Shapes.str(t.shape()));
                }
                buffers.put(s.path(), t);
            }
            if (!fileBuffers.isEmpty()) {
                throw new IllegalArgumentException("the model has no buffer " + fileBuffers.keySet().iterator().next()
                        + "; its buffers are " + bufferSpecs.stream().map(ParamSpec::path).toList());
            }
        } catch (IllegalArgumentException e) {
            for (Tensor t : all.values()) {
                t.close();
            }
            for (Tensor t : buffers.values()) {
                t.close();
            }
            throw new IllegalArgumentException(file + ": " + e.getMessage() + " (model " + model.spec() + ")", e);
        }
        Params p = new Params(tensors);
        List<ParamSpec> specs = model.paramSpecs(perExample);
        try {
            p.validate(specs, dtype);
        } catch (IllegalArgumentException e) {
            p.close();
            for (Tensor t : buffers.values()) {
                t.close();
            }
            throw new IllegalArgumentException(file + ": " + e.getMessage() + " (model " + model.spec() + ")", e);
        }
        // reorder to the model's declaration order
        Map<String, Tensor> ordered = new java.util.LinkedHashMap<>();
        for (ParamSpec s : specs) {
            ordered.put(s.path(), tensors.get(s.path()));
        }
        return new Params(ordered, buffers);
    }
}
