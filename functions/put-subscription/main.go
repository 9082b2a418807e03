// Command put-subscription is the PutSubscription Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PutSubscription", wire.PutSubscription) }
