package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/shared/blob"
)

// TestUploadAndStream: a presigned PUT stores what is sent to it without credentials; Size
// reads its size, Open streams it from any offset (the end and past it: empty), and a
// missing object is ErrNoObject for both.
func TestUploadAndStream(t *testing.T) {
	ctx := context.Background()
	emu, err := localaws.Start(ctx, localaws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	bucket := fmt.Sprintf("stream-test-%d", time.Now().UnixNano())
	if _, err := s3.NewFromConfig(emu.AWS).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	st, err := blob.New(ctx, emu.AWS, bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("0123456789"), 1000)
	link, err := st.PresignPut(ctx, "t/imp/upload", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !link.ExpiresAt.After(time.Now()) {
		t.Fatalf("link expires at %v", link.ExpiresAt)
	}
	req, _ := http.NewRequest("PUT", link.URL, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: status %d", resp.StatusCode)
	}
	if n, err := st.Size(ctx, "t/imp/upload"); err != nil || n != int64(len(body)) {
		t.Fatalf("size %d, %v; want %d", n, err, len(body))
	}
	for _, off := range []int64{0, 1, 4321, int64(len(body)) - 1, int64(len(body)), int64(len(body)) + 10} {
		t.Run(fmt.Sprint("from ", off), func(t *testing.T) {
			r, err := st.Open(ctx, "t/imp/upload", off)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if want := body[min(off, int64(len(body))):]; !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes from %d, want %d", len(got), off, len(want))
			}
		})
	}
	if _, err := st.Size(ctx, "t/none"); !errors.Is(err, blob.ErrNoObject) {
		t.Fatalf("size of a missing object: %v", err)
	}
	if _, err := st.Open(ctx, "t/none", 0); !errors.Is(err, blob.ErrNoObject) {
		t.Fatalf("open of a missing object: %v", err)
	}
}
