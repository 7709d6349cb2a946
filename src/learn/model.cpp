#include "learn/model.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace natpunch::learn {

namespace {

using Matrix = Eigen::MatrixXf;
using MatrixMap = Eigen::Map<Matrix>;
using ConstMatrixMap = Eigen::Map<const Matrix>;
using VectorMap = Eigen::Map<Eigen::VectorXf>;
using ConstVectorMap = Eigen::Map<const Eigen::VectorXf>;

// Offsets of the layers in the flat vector.
struct Layout {
  Eigen::Index in, hidden, classes;
  Eigen::Index w1 = 0, b1 = 0, w2 = 0, b2 = 0;
  explicit Layout(const ModelShape& s) : in(s.inputs), hidden(s.hidden), classes(s.classes) {
    if (hidden == 0) {
      w2 = 0;
      b2 = classes * in;
    } else {
      b1 = hidden * in;
      w2 = b1 + hidden;
      b2 = w2 + classes * hidden;
    }
  }
  Eigen::Index last_in() const { return hidden == 0 ? in : hidden; }
};

// Softmax of each row, shifted by the row maximum for stability.
Matrix softmax_rows(Matrix z) {
  z.colwise() -= z.rowwise().maxCoeff();
  z = z.array().exp();
  z.array().colwise() /= z.rowwise().sum().array();
  return z;
}

}  // namespace

std::size_t ModelShape::parameter_count() const {
  const std::size_t in = inputs, h = hidden, c = classes;
  return h == 0 ? c * in + c : h * in + h + c * h + c;
}

Model::Model(ModelShape shape) : shape_(shape), parameters_(Eigen::VectorXf::Zero(static_cast<Eigen::Index>(shape.parameter_count()))) {}

Model Model::initialised(ModelShape shape, Rng& rng) {
  Model model(shape);
  const Layout l(shape);
  // He-uniform for the ReLU layer, Glorot-uniform for the output layer.
  auto fill = [&](Eigen::Index offset, Eigen::Index count, double bound) {
    std::uniform_real_distribution<float> draw(static_cast<float>(-bound), static_cast<float>(bound));
    for (Eigen::Index i = 0; i < count; ++i) model.parameters_[offset + i] = draw(rng.engine());
  };
  if (l.hidden > 0) fill(l.w1, l.hidden * l.in, std::sqrt(6.0 / static_cast<double>(l.in)));
  fill(l.w2, l.classes * l.last_in(), std::sqrt(6.0 / static_cast<double>(l.last_in() + l.classes)));
  return model;
}

Matrix Model::logits(const Matrix& x) const {
  const Layout l(shape_);
  ConstMatrixMap w2(parameters_.data() + l.w2, l.classes, l.last_in());
  ConstVectorMap b2(parameters_.data() + l.b2, l.classes);
  if (l.hidden == 0) return (x * w2.transpose()).rowwise() + b2.transpose();
  ConstMatrixMap w1(parameters_.data() + l.w1, l.hidden, l.in);
  ConstVectorMap b1(parameters_.data() + l.b1, l.hidden);
  const Matrix h = ((x * w1.transpose()).rowwise() + b1.transpose()).cwiseMax(0.0f);
  return (h * w2.transpose()).rowwise() + b2.transpose();
}

double Model::accuracy(const Dataset& data) const {
  if (data.size() == 0) return 0.0;
  const Matrix z = logits(data.features);
  std::size_t correct = 0;
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    Eigen::Index best = 0;
    z.row(i).maxCoeff(&best);
    if (best == data.labels[static_cast<std::size_t>(i)]) ++correct;
  }
  return static_cast<double>(correct) / static_cast<double>(data.size());
}

void Model::sgd_step(const Matrix& x, const std::vector<std::uint8_t>& labels, const SgdConfig& sgd) {
  const Layout l(shape_);
  const auto batch = static_cast<float>(x.rows());
  float* p = parameters_.data();
  MatrixMap w2(p + l.w2, l.classes, l.last_in());
  VectorMap b2(p + l.b2, l.classes);

  Matrix h;  // the last layer's input
  if (l.hidden == 0) {
    h = x;
  } else {
    MatrixMap w1(p + l.w1, l.hidden, l.in);
    VectorMap b1(p + l.b1, l.hidden);
    h = ((x * w1.transpose()).rowwise() + b1.transpose()).cwiseMax(0.0f);
  }
  // Cross-entropy gradient with respect to the logits: (softmax - one-hot) / batch.
  Matrix dz = softmax_rows((h * w2.transpose()).rowwise() + b2.transpose());
  for (Eigen::Index i = 0; i < dz.rows(); ++i) dz(i, labels[static_cast<std::size_t>(i)]) -= 1.0f;
  dz /= batch;

  if (l.hidden > 0) {
    MatrixMap w1(p + l.w1, l.hidden, l.in);
    VectorMap b1(p + l.b1, l.hidden);
    const Matrix dh = (dz * w2).cwiseProduct((h.array() > 0.0f).cast<float>().matrix());
    w1 -= sgd.learning_rate * (dh.transpose() * x + sgd.l2 * w1);
    b1 -= sgd.learning_rate * dh.colwise().sum().transpose();
  }
  w2 -= sgd.learning_rate * (dz.transpose() * h + sgd.l2 * w2);
  b2 -= sgd.learning_rate * dz.colwise().sum().transpose();
}

void train_epochs(Model& model, const Dataset& data, int epochs, const SgdConfig& sgd, Rng& rng) {
  if (data.size() == 0 || sgd.batch_size == 0) return;
  std::vector<std::size_t> order(data.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  Matrix x;
  std::vector<std::uint8_t> labels;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng.engine());
    for (std::size_t start = 0; start < order.size(); start += sgd.batch_size) {
      const std::size_t n = std::min(sgd.batch_size, order.size() - start);
      x.resize(static_cast<Eigen::Index>(n), data.feature_count());
      labels.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        x.row(static_cast<Eigen::Index>(i)) = data.features.row(static_cast<Eigen::Index>(order[start + i]));
        labels[i] = data.labels[order[start + i]];
      }
      model.sgd_step(x, labels, sgd);
    }
  }
}

}  // namespace natpunch::learn
