package localaws

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/livingprofile/livingprofile/infra/template"
)

// Character classes of Secrets Manager's GetRandomPassword.
const (
	lowerChars       = "abcdefghijklmnopqrstuvwxyz"
	upperChars       = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digitChars       = "0123456789"
	punctuationChars = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

// generateSecretString produces the value CloudFormation stores for GenerateSecretString: a
// random password, on its own or added under g.Key to the JSON object g.Template.
func generateSecretString(g template.GenerateSecretString) (string, error) {
	pw, err := password(g)
	if err != nil {
		return "", err
	}
	if g.Template == "" {
		return pw, nil
	}
	obj := map[string]any{}
	if err := json.Unmarshal([]byte(g.Template), &obj); err != nil {
		return "", fmt.Errorf("SecretStringTemplate is not a JSON object: %w", err)
	}
	obj[g.Key] = pw
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Keep punctuation such as '<' and '&' as written, like Secrets Manager does.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// password draws g.Length characters uniformly from the classes, again until every class
// appears (GetRandomPassword's RequireEachIncludedType default): uniform over the passwords
// that qualify.
func password(g template.GenerateSecretString) (string, error) {
	classes := []string{lowerChars, upperChars, digitChars}
	if !g.ExcludePunctuation {
		classes = append(classes, punctuationChars)
	}
	if g.Length < len(classes) || g.Length > 4096 {
		return "", fmt.Errorf("PasswordLength %d is outside %d..4096", g.Length, len(classes))
	}
	alphabet := strings.Join(classes, "")
	n := big.NewInt(int64(len(alphabet)))
	out := make([]byte, g.Length)
	for {
		for i := range out {
			k, err := rand.Int(rand.Reader, n)
			if err != nil {
				return "", fmt.Errorf("random: %w", err)
			}
			out[i] = alphabet[k.Int64()]
		}
		lacks := func(class string) bool { return !strings.ContainsAny(string(out), class) }
		if !slices.ContainsFunc(classes, lacks) {
			return string(out), nil
		}
	}
}
