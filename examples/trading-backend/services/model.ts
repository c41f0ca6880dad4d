// The price predictor: a tiny ONNX model, made here so the demo ships no binary. It is linear,
// expected next return (in basis points) = features · weights, with features
// [last return, return over five ticks, distance from the moving average], all in basis points:
// a mean-reversion signal. Swap in your own model file: the adapter does not care what it computes.
import onnxProto from 'onnx-proto'
import * as ort from 'onnxruntime-node'

const { onnx } = onnxProto
const FLOAT = onnx.TensorProto.DataType.FLOAT
const WEIGHTS = [-0.4, -0.2, -0.3]

function modelBytes(): Uint8Array {
  const tensor = (dims: number[]) => ({ tensorType: { elemType: FLOAT, shape: { dim: dims.map((dimValue) => ({ dimValue })) } } })
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'breakwater-demo',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'mean-reversion',
      input: [{ name: 'features', type: tensor([1, 3]) }],
      output: [{ name: 'expected', type: tensor([1, 1]) }],
      initializer: [{ name: 'weights', dataType: FLOAT, dims: [3, 1], floatData: WEIGHTS }],
      node: [{ opType: 'MatMul', input: ['features', 'weights'], output: ['expected'], name: 'matmul' }],
    },
  })
  return onnx.ModelProto.encode(model).finish()
}

/** An onnxruntime session on the CPU (no download, no GPU). */
export function loadModel(): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelBytes(), { executionProviders: ['cpu'] })
}

/** The model's input for three features. */
export function features(values: [number, number, number]): { features: ort.Tensor } {
  return { features: new ort.Tensor('float32', Float32Array.from(values), [1, 3]) }
}
