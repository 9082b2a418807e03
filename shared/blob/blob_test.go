package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/shared/blob"
)

// TestStoreOnEmulator: the adapter against the embedded emulator's S3: uploads with SSE-KMS,
// keys S3 must escape, listings over more than one page, a
// presigned download, deletion of more than one DeleteObjects' worth, and S3's errors.
func TestStoreOnEmulator(t *testing.T) {
	ctx := context.Background()
	emu, err := localaws.Start(ctx, localaws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	bucket := fmt.Sprintf("blob-test-%d", time.Now().UnixNano())
	sdk := s3.NewFromConfig(emu.AWS)
	if _, err := sdk.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	st, err := blob.New(ctx, emu.AWS, bucket, "alias/blob-test")
	if err != nil {
		t.Fatal(err)
	}

	for _, key := range keys {
		t.Run("put "+key, func(t *testing.T) {
			body := []byte("object " + key)
			if err := st.Put(ctx, blob.PutInput{Key: key, Body: bytes.NewReader(body), Size: int64(len(body)), ContentType: "application/zip",
				CacheControl: "private, no-store", ContentDisposition: `attachment; filename="x.zip"`}); err != nil {
				t.Fatal(err)
			}
			got, err := sdk.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			defer got.Body.Close()
			b, _ := io.ReadAll(got.Body)
			// The emulator keeps no Cache-Control or Content-Disposition; that they are sent
			// as the SDK sends them is TestRequestsMatchSDK's to show.
			if !bytes.Equal(b, body) || aws.ToString(got.ContentType) != "application/zip" || aws.ToString(got.SSEKMSKeyId) != "alias/blob-test" {
				t.Errorf("stored %q type %q kms %q", b, aws.ToString(got.ContentType), aws.ToString(got.SSEKMSKeyId))
			}
			link, err := st.Presign(ctx, key, time.Minute, "export ż.zip")
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get(link.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ = io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !bytes.Equal(b, body) || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
				t.Errorf("presigned GET: %d %q %q", resp.StatusCode, b, resp.Header.Get("Content-Disposition"))
			}
		})
	}

	const n = 1001 // more than a listing page and a DeleteObjects call hold
	prefix := "t2/p many/"
	for i := range n {
		body := []byte{byte(i)}
		if err := st.Put(ctx, blob.PutInput{Key: fmt.Sprintf("%s%04d ü+.zip", prefix, i), Body: bytes.NewReader(body), Size: 1, ContentType: "application/zip"}); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := st.List(ctx, prefix)
	if err != nil || len(objs) != n || objs[0].Key != prefix+"0000 ü+.zip" || objs[n-1].Key != prefix+"1000 ü+.zip" || objs[0].Size != 1 || objs[0].LastModified.IsZero() {
		t.Fatalf("listed %d (%v)", len(objs), err)
	}
	if got, err := st.List(ctx, "t1/"); err != nil || len(got) != len(keys) {
		t.Errorf("listed %d of t1/ (%v), want %d", len(got), err, len(keys))
	}
	if removed, err := st.DeletePrefix(ctx, prefix); err != nil || removed != n {
		t.Fatalf("DeletePrefix removed %d (%v)", removed, err)
	}
	if left, err := st.List(ctx, prefix); err != nil || len(left) != 0 {
		t.Errorf("left after DeletePrefix: %d (%v)", len(left), err)
	}
	if removed, err := st.DeletePrefix(ctx, "t1/"); err != nil || removed != len(keys) {
		t.Errorf("DeletePrefix t1/ removed %d (%v)", removed, err)
	}

	missing, err := blob.New(ctx, emu.AWS, bucket+"-missing", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = missing.List(ctx, "x/")
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchBucket" || ae.ErrorFault() != smithy.FaultClient {
		t.Errorf("listing a missing bucket: %v", err)
	}
}
