// The process inside a local sandbox: runs the JavaScript it is sent, one message at a time,
// and answers with the value it returns (or its error). Ends when its owner goes away.
process.on('message', async ({ id, code }) => {
  try {
    const result = await new Function(`return (async () => { ${code} })()`)()
    process.send({ id, result })
  } catch (error) {
    process.send({ id, error: { name: error?.name ?? 'Error', value: String(error?.message ?? error) } })
  }
})
process.on('disconnect', () => process.exit(0))
process.send('ready')
