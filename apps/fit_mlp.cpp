// fit_mlp: the smallest end-to-end use of the engine. A two-layer MLP learns to classify
// points of two interleaved spirals with cross-entropy and Adam; the loss and accuracy are
// printed as it trains. It is also the README's API example, runnable.
#include <cmath>
#include <cstdio>

#include "apps/common/main.h"
#include "models/nn/linear.h"
#include "models/optim/adam.h"
#include "ops/ops.h"

using namespace kite;

namespace {

// n points per class on two spirals, with a little noise; labels 0 and 1.
void make_spirals(int64_t n, Generator& generator, Tensor& points, Tensor& labels) {
  std::vector<float> xy;
  std::vector<int64_t> y;
  std::vector<float> noise(4 * n);
  generator.fill_normal(noise.data(), 4 * n, 0.0f, 0.05f);
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t i = 0; i < n; ++i) {
      const double t = 0.25 + 3.0 * i / n, angle = 2.5 * t + c * M_PI;
      xy.push_back(static_cast<float>(t * std::cos(angle) / 3.25 + noise[(c * n + i) * 2]));
      xy.push_back(static_cast<float>(t * std::sin(angle) / 3.25 + noise[(c * n + i) * 2 + 1]));
      y.push_back(c);
    }
  points = Tensor::from_vector(xy, {2 * n, 2});
  labels = Tensor::from_vector(y, {2 * n});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a small MLP on two spirals: the engine end to end in a few seconds"};
  app.name("fit_mlp");
  int steps = 600, hidden = 64, threads = 0;
  double lr = 1e-2;
  uint64_t seed = 0;
  app.add_option("--steps", steps, "Adam steps")->check(CLI::PositiveNumber);
  app.add_option("--hidden", hidden, "Hidden units")->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "Learning rate");
  app.add_option("--seed", seed, "Random seed");
  app.add_option("--threads", threads, "CPU threads (0: OpenMP default)");

  return apps::run_main(app, argc, argv, [&] {
    apps::configure_threads(threads);
    manual_seed(seed);
    Generator data_generator(seed + 1);
    Tensor x, y;
    make_spirals(500, data_generator, x, y);

    auto layer1 = std::make_shared<nn::Linear>(2, hidden);
    auto layer2 = std::make_shared<nn::Linear>(hidden, hidden);
    auto layer3 = std::make_shared<nn::Linear>(hidden, 2);
    std::vector<Tensor> params;
    for (auto* layer : {layer1.get(), layer2.get(), layer3.get()})
      for (auto& p : layer->parameters()) params.push_back(p);
    optim::Adam optimizer(params, {lr});

    double first_loss = 0, loss_value = 0, accuracy = 0;
    for (int step = 0; step <= steps; ++step) {
      Tensor logits = layer3->forward(tanh(layer2->forward(tanh(layer1->forward(x)))));
      Tensor loss = cross_entropy(logits, y);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_value = loss.item<double>();
      if (step == 0) first_loss = loss_value;
      if (step % 100 == 0 || step == steps) {
        NoGradGuard no_grad;
        accuracy = mean(to_dtype(eq(to_dtype(argmax(logits, 1), DType::Float32),
                                    to_dtype(y, DType::Float32)),
                                 DType::Float64))
                       .item<double>();
        std::printf("step %4d  loss %.4f  accuracy %.1f%%\n", step, loss_value, 100 * accuracy);
      }
    }
    std::printf("loss went from %.4f to %.4f\n", first_loss, loss_value);
    return loss_value < first_loss ? 0 : 1;
  });
}
