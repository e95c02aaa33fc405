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
 * in declaration order. {@code numpy.load("params.npz")["1_dense/w"]} reads one back.
 */
public final class ParamsFile {
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
        Npz.write(file, params.tensors());
    }

    /**
     * Reads parameters for {@code model} on per-example inputs {@code perExample} and checks them against the
     * model: same names, shapes, finite values; converted to {@code dtype}.
     *
     * @param file the {@code .npz} archive
     * @param model the network the parameters are for
     * @param perExample the shape of one input example
     * @param dtype the element type to convert to
     * @return the parameters in the model's declaration order, which the caller closes
     * @throws IllegalArgumentException if the file is a {@code .npy}, or the parameters do not match the model
     * @throws IOException if the file cannot be read or is not a valid {@code .npz}
     */

    public static Params load(Path file, Model model, int[] perExample, DType dtype) throws IOException {
        if (java.nio.file.Files.isRegularFile(file) && Npz.startsWithNpyMagic(file)) {
            throw new IllegalArgumentException(file + ": a .npy file (one array); parameters are an .npz archive of "
                    + "named arrays, as 'ntk4j kernel --params-out' writes");
        }
        Map<String, Tensor> tensors = Npz.readTensors(file, dtype);
        Params p = new Params(tensors);
        List<ParamSpec> specs = model.paramSpecs(perExample);
        try {
            p.validate(specs, dtype);
        } catch (IllegalArgumentException e) {
            p.close();
            throw new IllegalArgumentException(file + ": " + e.getMessage() + " (model " + model.spec() + ")", e);
        }
        // reorder to the model's declaration order
        Map<String, Tensor> ordered = new java.util.LinkedHashMap<>();
        for (ParamSpec s : specs) {
            ordered.put(s.path(), tensors.get(s.path()));
        }
        return new Params(ordered);
    }
}
