// The model, as `xxd -i model.tflite` writes it (renamed on purpose: a model is a model by its bytes, a TFLite
// flatbuffer with the file identifier "TFL3" at offset 4, not by the name g_model).
alignas(16) extern const unsigned char kws_weights[];
alignas(16) const unsigned char kws_weights[256] = {
    0x1c, 0x00, 0x00, 0x00, 'T', 'F', 'L', '3', 1, 2, 3, 4, 5, 6, 7, 8,
};
