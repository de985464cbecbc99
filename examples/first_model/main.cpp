// My first dagrad model: a small CNN trained on MNIST and saved as a checkpoint.
//   first_model DATA_DIR [MAX_STEPS]
#include <dagrad/dagrad.h>

#include <algorithm>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  using namespace dagrad;
  if (argc < 2) {
    std::cerr << "usage: first_model DATA_DIR [MAX_STEPS]\n";
    return 2;
  }
  try {
    // 1. Data: the MNIST IDX files in DATA_DIR (train-images-idx3-ubyte, ...).
    MnistDataset train = MnistDataset::load(argv[1], "train");
    MnistDataset test = MnistDataset::load(argv[1], "test");

    // 2. The model: images [N,1,28,28] in, log-probabilities [N,10] out.
    auto model = std::make_shared<nn::Sequential>("", std::vector<nn::ModulePtr>{
        nn::conv2d("conv1", 1, 16, 3), nn::batch_norm2d("bn1", 16), nn::relu(),  // [N,16,26,26]
        nn::max_pool2d({.kernel = 2}),                                            // [N,16,13,13]
        nn::conv2d("conv2", 16, 32, 3), nn::relu(),                               // [N,32,11,11]
        nn::max_pool2d({.kernel = 2}),                                            // [N,32,5,5]
        nn::flatten(), nn::linear("fc", 32 * 5 * 5, 10), nn::log_softmax()});

    // 3. Training: SGD with momentum for one epoch (or its first MAX_STEPS batches).
    TrainConfig cfg;
    cfg.model_name = "my-cnn";
    cfg.epochs = 1;
    cfg.batch_size = 64;
    cfg.schedule.base_lr = 0.05;
    if (argc > 2) cfg.max_steps_per_epoch = std::stoll(argv[2]);
    Trainer trainer(model, cfg, std::cout);
    trainer.fit(train, test);  // prints the loss and the test accuracy

    // 4. Save the parameters and optimizer state (a safetensors file).
    trainer.save("my-cnn.safetensors");
    std::cout << "saved my-cnn.safetensors\n";

    // 5. Use it: the class of the first test image.
    Batch one = test.gather(std::vector<int64_t>{0});
    std::vector<float> log_probs = trainer.predict(one.input).to_vector<float>();
    auto best = std::max_element(log_probs.begin(), log_probs.end()) - log_probs.begin();
    std::cout << "first test image: predicted " << best << ", label " << one.target.data<int64_t>()[0] << "\n";
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
