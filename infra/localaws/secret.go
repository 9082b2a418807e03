package localaws

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
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
// random password from crypto/rand, on its own or added under g.Key to the JSON object
// g.Template.
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

// password draws g.Length characters uniformly from the included classes, minus
// ExcludeCharacters. With RequireEachIncludedType it draws again until every included class
// appears, which keeps the draw uniform over the passwords that qualify.
func password(g template.GenerateSecretString) (string, error) {
	var classes []string
	add := func(exclude bool, chars string) {
		if exclude {
			return
		}
		kept := strings.Map(func(r rune) rune {
			if strings.ContainsRune(g.ExcludeCharacters, r) {
				return -1
			}
			return r
		}, chars)
		if kept != "" {
			classes = append(classes, kept)
		}
	}
	add(g.ExcludeLowercase, lowerChars)
	add(g.ExcludeUppercase, upperChars)
	add(g.ExcludeNumbers, digitChars)
	add(g.ExcludePunctuation, punctuationChars)
	add(!g.IncludeSpace, " ")

	alphabet := strings.Join(classes, "")
	switch {
	case g.Length < 1 || g.Length > 4096:
		return "", fmt.Errorf("PasswordLength %d is outside 1..4096", g.Length)
	case alphabet == "":
		return "", fmt.Errorf("GenerateSecretString excludes every character")
	case g.RequireEachIncludedType && g.Length < len(classes):
		return "", fmt.Errorf("PasswordLength %d is too short to include all %d character types", g.Length, len(classes))
	}
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
		if !g.RequireEachIncludedType || hasEach(string(out), classes) {
			return string(out), nil
		}
	}
}

func hasEach(s string, classes []string) bool {
	for _, c := range classes {
		if !strings.ContainsAny(s, c) {
			return false
		}
	}
	return true
}
