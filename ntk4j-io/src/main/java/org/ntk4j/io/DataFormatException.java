package org.ntk4j.io;

import java.io.IOException;

/**
 * A data file (IDX, CSV) that cannot be read as given: the message starts with the file and says what is
 * wrong and, where it helps, what was expected. {@code .npy}/{@code .npz} problems are the sibling
 * {@link NpyFormatException}.
 */
public class DataFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public DataFormatException(String message) {
        super(message);
    }

    public DataFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
