package secrets

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
)

// readUserConfig reads a gitleaks TOML configuration file.
func readUserConfig(path string) (config.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return config.Config{}, fmt.Errorf("secrets: gitleaks config: %w", err)
	}
	gc, err := translate(string(b), path)
	if err != nil {
		return config.Config{}, fmt.Errorf("secrets: gitleaks config %s: %w", path, err)
	}
	return gc, nil
}

// translate parses a gitleaks TOML configuration with a viper of its own
// (gitleaks' own loader uses the global one) and compiles it. The
// [extend] table is returned, not acted on: loadConfig merges the default
// rules itself.
func translate(text, path string) (config.Config, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(text)); err != nil {
		return config.Config{}, err
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return config.Config{}, err
	}
	ext := vc.Extend
	if ext.Path != "" || ext.URL != "" {
		return config.Config{}, fmt.Errorf("[extend] path or url: %w (copy the rules in, or use [extend] useDefault = true)", ErrUnsupported)
	}
	vc.Extend = config.Extend{}
	gc, err := vc.Translate()
	if err != nil {
		return config.Config{}, err
	}
	gc.Extend = ext
	gc.Path = path
	if gc.Rules == nil {
		gc.Rules = map[string]config.Rule{}
	}
	if gc.Keywords == nil {
		gc.Keywords = map[string]struct{}{}
	}
	return gc, nil
}
