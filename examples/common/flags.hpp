#pragma once
// Checks of the examples' command-line numbers (examples/mnist, examples/resnet), with messages
// that say what was expected. CLI11's own range checks accept "nan" where a number may not be
// negative, and say "Value 0 not in range 0.000000 to 1797693134862315708145274237317043567981..."
// for --batch 0 or "not in range" for --lr abc. Each check parses the text itself, so the message
// can name what was wrong.

#include <charconv>
#include <cmath>
#include <string>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

namespace examples {

// A whole number in [min, max].
inline CLI::Validator whole_number(unsigned long long min, unsigned long long max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        unsigned long long value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error != std::errc{} || end != text.data() + text.size() || value < min ||
            value > max) {
          return fmt::format("expected a whole number in [{}, {}], got '{}'", min, max, text);
        }
        return {};
      },
      fmt::format("INT in [{}, {}]", min, max));
}

// A finite number in [min, max], or (min, max] if `above_min`.
inline CLI::Validator number(double min, double max, bool above_min = false) {
  const std::string range = fmt::format("{}{}, {}]", above_min ? '(' : '[', min, max);
  return CLI::Validator(
      [min, max, above_min, range](std::string& text) -> std::string {
        double value = 0.0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) ||
            value < min || (above_min && value == min) || value > max) {
          return fmt::format("expected a finite number in {}, got '{}'", range, text);
        }
        return {};
      },
      "FLOAT in " + range);
}

}  // namespace examples
